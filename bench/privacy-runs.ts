/**
 * `npm run bench:privacy-runs`: what privacy costs in a real federation on the built-in task, in one run.
 *   - accuracy of client-level DP-FedAvg at a few (z, C) against no DP (same sites, seed, rounds);
 *   - round time with secure aggregation against plain FedAvg on the same model and sites.
 * In-memory transport, 8 sites, 5 rounds. Writes bench/results/privacy-runs.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation, type SimulationOptions } from '@fedtune/cli';

const base: SimulationOptions = {
  sites: 8,
  rounds: 5,
  seed: 11,
  out: '/tmp/fedtune-privacy-runs',
  transport: 'memory',
  partition: 'iid',
  federatedEvaluation: 'never',
  robustness: { when: 'never' },
};

interface Row {
  setting: string;
  accuracy?: number;
  epsilon?: number;
  meanRoundS: number;
  bytesUpPerRound: number;
}
const rows: Row[] = [];
async function cell(setting: string, extra: Partial<SimulationOptions>): Promise<void> {
  const r = await runSimulation({ ...base, ...extra });
  const rounds = r.report.rounds;
  rows.push({
    setting,
    accuracy: r.report.final?.accuracy,
    epsilon: r.report.privacy?.epsilon ?? undefined,
    meanRoundS: rounds.reduce((s, x) => s + x.durationMs, 0) / Math.max(1, rounds.length) / 1000,
    bytesUpPerRound: rounds.reduce((s, x) => s + x.bytesUp, 0) / Math.max(1, rounds.length),
  });
  console.log(JSON.stringify(rows.at(-1)));
}

await cell('no DP (FedAvg)', {});
for (const [z, c] of [[0, 1], [0.3, 1], [0.7, 1], [1.1, 1], [0.7, 0.3]] as const) {
  await cell(`DP-FedAvg z=${z} C=${c}`, { dp: { noiseMultiplier: z, clip: c } });
}
await cell('secure aggregation (clip 1)', { secureAggregation: { clip: 1 } });
await cell('FedAvg, deltas clipped to 1 (same as the secure run, in the clear)', { strategy: 'norm-bound', strategyOptions: { maxNorm: 1 } });

mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'privacy-runs.json'), JSON.stringify({ date: new Date().toISOString(), base, rows }, null, 2));
console.log('\nsetting                          accuracy   epsilon(δ=1e-5)   s/round   up/round');
for (const r of rows) {
  console.log(`${r.setting.padEnd(32)} ${((r.accuracy ?? NaN) * 100).toFixed(1).padStart(7)}%   ${(r.epsilon === undefined ? '–' : r.epsilon === null ? '∞' : r.epsilon.toFixed(2)).padStart(14)}   ${r.meanRoundS.toFixed(2).padStart(7)}   ${(r.bytesUpPerRound / 1e6).toFixed(2)} MB`);
}
process.exit(0);
