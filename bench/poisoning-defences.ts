/**
 * `npm run bench:poisoning`: what the poisoning-safe defaults (docs/robustness.md#poisoning-safe-defaults)
 * cost on an honest run and what they do against the two attacks of issue 11, finding 3.
 *   - honest default simulation with the defences on vs off (alternated, twice each): final accuracy,
 *     mean round time and their ratio, refused updates, and whether the final weights are bit-identical;
 *   - final accuracy under zeros×1e6 (`zeros-max-count`) and 1e30×1 (`huge-scale`), one attacker of 8,
 *     with the defences on (and off), against the clean run.
 * In-memory transport, 8 sites, 3 rounds, ≤ 200 examples per site per round, seed 1.
 * Writes bench/results/poisoning-defences.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation, type SimulationOptions } from '@fedtune/cli';

const base: SimulationOptions = {
  sites: 8,
  rounds: 3,
  seed: 1,
  out: '/tmp/fedtune-poisoning-defences',
  transport: 'memory',
  partition: 'dirichlet:0.5',
  maxExamples: 200,
  federatedEvaluation: 'never',
  robustness: { when: 'never' },
};
const OFF: SimulationOptions['defences'] = { normBoundMultiple: 0, exampleWeightCap: 0, maxAccuracyDrop: 1, maxAccuracyDropFromBest: 1 };

interface Row {
  setting: string;
  status: string;
  accuracy?: number;
  meanRoundMs: number;
  refusedUpdates: number;
  notAdoptedRounds: number;
  aborted?: string;
}

async function cell(setting: string, extra: Partial<SimulationOptions>): Promise<{ row: Row; weights?: Buffer }> {
  const r = await runSimulation({ ...base, ...extra });
  const rounds = r.report.rounds;
  const row: Row = {
    setting,
    status: r.report.status,
    accuracy: r.report.final?.accuracy,
    meanRoundMs: rounds.reduce((n, x) => n + x.durationMs, 0) / Math.max(1, rounds.length),
    refusedUpdates: rounds.reduce((n, x) => n + x.rejected.length, 0),
    notAdoptedRounds: rounds.filter((x) => x.adoption && !x.adoption.adopted).length,
    ...(r.report.aborted ? { aborted: r.report.aborted } : {}),
  };
  console.log(JSON.stringify(row));
  const weights = r.report.final ? readFileSync(join(r.runDir, r.report.final.modelDir, 'weights.bin')) : undefined;
  return { row, weights };
}

const started = Date.now();
const honest: Array<{ row: Row; weights?: Buffer; on: boolean }> = [];
for (const on of [false, true, false, true]) honest.push({ ...(await cell(on ? 'honest, defences on' : 'honest, defences off', on ? {} : { defences: OFF })), on });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const onRows = honest.filter((h) => h.on);
const offRows = honest.filter((h) => !h.on);
const honestSummary = {
  accuracyOn: onRows[0].row.accuracy,
  accuracyOff: offRows[0].row.accuracy,
  accuracyRatio: onRows[0].row.accuracy! / offRows[0].row.accuracy!,
  meanRoundMsOn: mean(onRows.map((h) => h.row.meanRoundMs)),
  meanRoundMsOff: mean(offRows.map((h) => h.row.meanRoundMs)),
  roundTimeRatio: mean(onRows.map((h) => h.row.meanRoundMs)) / mean(offRows.map((h) => h.row.meanRoundMs)),
  refusedUpdatesOn: onRows.reduce((n, h) => n + h.row.refusedUpdates, 0),
  identicalFinalWeights: honest.every((h) => h.weights !== undefined && h.weights.equals(honest[0].weights!)),
};

const attacks: Row[] = [];
for (const attack of ['zeros-max-count', 'huge-scale']) {
  attacks.push((await cell(`${attack}, defences on`, { attack, malicious: 1 / 8 })).row);
  attacks.push((await cell(`${attack}, defences off`, { attack, malicious: 1 / 8, defences: OFF })).row);
}
const clean = honestSummary.accuracyOn!;
const result = {
  date: new Date().toISOString(),
  setup: 'built-in digits, 8 sites (dirichlet 0.5), 3 rounds, ≤ 200 examples per site per round, seed 1, in-memory transport; attacks: 1 malicious site of 8',
  minutes: (Date.now() - started) / 60000,
  honest: honestSummary,
  attacks: attacks.map((a) => ({ ...a, pointsFromClean: a.accuracy === undefined ? undefined : 100 * (a.accuracy - clean) })),
  honestRuns: honest.map((h) => h.row),
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'poisoning-defences.json'), JSON.stringify(result, null, 2));
console.log(JSON.stringify({ honest: result.honest, attacks: result.attacks }, null, 2));
process.exit(0);
