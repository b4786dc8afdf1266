/**
 * `npm run bench:compression`: what compressed updates cost and save on the default digits run
 * (docs/performance.md#compressed-updates). The same run (sites, seed, rounds) three times in one process:
 * float32 (the baseline), fp16 and int8 updates. Measures bytes per accepted update against float32 and the
 * final holdout accuracy's difference from float32. Targets (issue 15): int8 ≤ 0.27× the bytes, accuracy
 * within 0.5 points. Writes bench/results/compression.json.
 *
 *   npm run bench:compression                # the default run (schema defaults: sites, rounds)
 *   npm run bench:compression -- --rounds 3  # shorter
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation, type SimulationOptions } from '@fedtune/cli';
import type { UpdateEncoding } from '@fedtune/shared';

const roundsAt = process.argv.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(process.argv[roundsAt + 1]) : undefined;
const base: SimulationOptions = {
  sites: 8, // fedtune simulate's default
  seed: 42,
  ...(rounds ? { rounds } : {}),
  out: '/tmp/fedtune-bench-compression',
  transport: 'memory',
  federatedEvaluation: 'never',
  robustness: { when: 'never' },
};

interface Row {
  encoding: UpdateEncoding;
  accuracy: number;
  bytesPerUpdate: number;
  ratio: number;
  accuracyDifferencePoints: number;
}
const rows: Row[] = [];
let baseline: { accuracy: number; bytesPerUpdate: number } | undefined;
for (const encoding of ['float32', 'fp16', 'int8'] as const) {
  const r = await runSimulation({ ...base, trainExtras: { updateEncoding: encoding } });
  const accepted = r.report.rounds.reduce((n, x) => n + x.accepted.length, 0);
  const bytesPerUpdate = r.report.rounds.reduce((n, x) => n + x.bytesUp, 0) / Math.max(1, accepted);
  const accuracy = r.report.final?.accuracy ?? NaN;
  baseline ??= { accuracy, bytesPerUpdate };
  rows.push({ encoding, accuracy, bytesPerUpdate, ratio: bytesPerUpdate / baseline.bytesPerUpdate, accuracyDifferencePoints: (accuracy - baseline.accuracy) * 100 });
  console.log(JSON.stringify(rows.at(-1)));
}

const int8 = rows.find((r) => r.encoding === 'int8')!;
const targets = [
  { target: 'int8 bytes per update vs float32', goal: 0.27, measured: int8.ratio, unit: '×', met: int8.ratio <= 0.27 },
  { target: 'int8 final accuracy difference vs float32', goal: 0.5, measured: Math.abs(int8.accuracyDifferencePoints), unit: 'points', met: Math.abs(int8.accuracyDifferencePoints) <= 0.5 },
];
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'compression.json'), JSON.stringify({ date: new Date().toISOString(), base, rows, targets }, null, 2));
console.log('\nencoding   accuracy   bytes/update   × float32   Δ accuracy');
for (const r of rows) {
  console.log(`${r.encoding.padEnd(8)} ${(r.accuracy * 100).toFixed(2).padStart(9)}%  ${r.bytesPerUpdate.toFixed(0).padStart(12)}   ${r.ratio.toFixed(3).padStart(9)}   ${r.accuracyDifferencePoints >= 0 ? '+' : ''}${r.accuracyDifferencePoints.toFixed(2)} pts`);
}
process.exit(targets.every((t) => t.met) ? 0 : 1);
