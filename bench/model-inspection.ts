/**
 * The cost of model inspection at the site (docs/site-policy.md, "Model inspection"): ms per check of the
 * built-in pretrained MLP and CNN on a site's train split (first 256 examples, batch 32), against one local
 * epoch of fitLocal on the same site in the same run (a site's later rounds: after a warm-up epoch). Goal: a
 * check costs ≤ 5% of one epoch.
 *
 * The implementation before the heap path (bench/baselines/inspect-model-baseline.ts) is measured in the same
 * run, interleaved with today's: each of ROUNDS rounds times a block of BLOCK checks of each (in alternating
 * order) and one epoch; the medians over the rounds are reported, so "before → after" share the load. Wall ms
 * and the process's CPU ms are both recorded (on a busy machine the CPU clock is the steadier of the two); the
 * targets are the wall-clock ratios.
 * Writes bench/results/model-inspection.json. Run: npx tsx bench/model-inspection.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { fitLocal, inspectModel, splitDataset } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { baselineInspectModel } from './baselines/inspect-model-baseline.ts';

const ROUNDS = 21;
const BLOCK = 6;
const backend = await selectNodeBackend();
const train = splitDataset(builtinDigitsSites({ sites: 10, partition: { kind: 'dirichlet', alpha: 1 }, seed: 7 })[0], 1).train;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const targets: Array<{ target: string; goal: number; measured: number; unit: string; met: boolean; note?: string }> = [];
type Times = { inspectMs: number; baselineInspectMs: number; epochMs: number; ratio: number; baselineRatio: number; speedup: number };
const measurements: Record<string, Times & { examples: number; cpu: Times }> = {};
const loads: number[] = [];
for (const architecture of ['mlp', 'cnn']) {
  // The checks see the pretrained weights (what a site receives); the epochs train a second copy.
  const model = await loadModelDir(pretrainedModelDir(architecture));
  const trained = await loadModelDir(pretrainedModelDir(architecture));
  const checks = { before: () => baselineInspectModel(model, train, { batchSize: 32 }), after: () => inspectModel(model, train, { batchSize: 32 }) };
  // Both give the same findings (tests/policy/inspect-model-baseline.test.ts compares every stat).
  if (JSON.stringify(checks.before()) !== JSON.stringify(checks.after())) throw new Error(`${architecture}: the findings differ`);
  const epoch = () => fitLocal(trained, train, { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 1 });
  for (let w = 0; w < 5; w++) for (const check of Object.values(checks)) check(); // warm-up (kernels compiled, code optimised: a site inspects every round)
  await epoch(); // warm-up epoch
  const times = { before: [] as number[], after: [] as number[], epoch: [] as number[] };
  const cpu = { before: [] as number[], after: [] as number[], epoch: [] as number[] };
  const cpuMs = (since: NodeJS.CpuUsage): number => {
    const d = process.cpuUsage(since);
    return (d.user + d.system) / 1000;
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const which of r % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
      const [t0, c0] = [performance.now(), process.cpuUsage()];
      for (let i = 0; i < BLOCK; i++) checks[which]();
      times[which].push((performance.now() - t0) / BLOCK);
      cpu[which].push(cpuMs(c0) / BLOCK);
    }
    const [t1, c1] = [performance.now(), process.cpuUsage()];
    await epoch();
    times.epoch.push(performance.now() - t1);
    cpu.epoch.push(cpuMs(c1));
    loads.push(loadavg()[0]);
  }
  model.dispose();
  trained.dispose();
  const summary = (t: typeof times): Times => {
    const [inspectMs, baselineInspectMs, epochMs] = [median(t.after), median(t.before), median(t.epoch)];
    return { inspectMs, baselineInspectMs, epochMs, ratio: Number((inspectMs / epochMs).toFixed(4)), baselineRatio: Number((baselineInspectMs / epochMs).toFixed(4)), speedup: Number((baselineInspectMs / inspectMs).toFixed(2)) };
  };
  const wall = summary(times);
  const onCpu = summary(cpu);
  measurements[architecture] = { ...wall, examples: train.y.length, cpu: onCpu };
  const { inspectMs, baselineInspectMs, epochMs, ratio, baselineRatio } = wall;
  targets.push({
    target: `model inspection ÷ one local epoch, built-in ${architecture} (${train.y.length} examples; at most)`,
    goal: 0.05,
    measured: Number(ratio.toFixed(4)),
    unit: 'ratio',
    met: ratio <= 0.05,
    note: `${inspectMs.toFixed(2)} ms per check (before: ${baselineInspectMs.toFixed(2)} ms, ratio ${baselineRatio.toFixed(3)}), ${epochMs.toFixed(0)} ms per epoch; medians of ${ROUNDS} interleaved rounds`,
  });
  for (const [clock, t] of [['wall', wall], ['cpu', onCpu]] as const) {
    console.log(`${architecture} (${clock}): ${t.baselineInspectMs.toFixed(2)} → ${t.inspectMs.toFixed(2)} ms per check (${t.speedup}×), one epoch ${t.epochMs.toFixed(0)} ms (${train.y.length} examples): ratio ${t.baselineRatio.toFixed(3)} → ${t.ratio.toFixed(3)}`);
  }
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'model-inspection.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ backend: backend.choice, date: new Date().toISOString(), load: { min: Math.min(...loads), max: Math.max(...loads) }, measurements, targets }, null, 2)}\n`);
console.log(`wrote ${out}`);
