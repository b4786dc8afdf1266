/**
 * The cost of model inspection at the site (docs/site-policy.md, "Model inspection"): ms per check of the
 * built-in pretrained MLP and CNN on a site's train split (first 256 examples, batch 32), against one local
 * epoch of fitLocal on the same site in the same run (the median of 3 after a first, warm-up epoch: a site's
 * later rounds). Goal: a check costs ≤ 5% of one epoch.
 * Writes bench/results/model-inspection.json. Run: npx tsx bench/model-inspection.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { fitLocal, inspectModel, splitDataset } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

const REPEATS = 30;
const backend = await selectNodeBackend();
const train = splitDataset(builtinDigitsSites({ sites: 10, partition: { kind: 'dirichlet', alpha: 1 }, seed: 7 })[0], 1).train;
const targets: Array<{ target: string; goal: number; measured: number; unit: string; met: boolean; note?: string }> = [];
const measurements: Record<string, { inspectMs: number; epochMs: number; examples: number }> = {};
for (const architecture of ['mlp', 'cnn']) {
  const model = await loadModelDir(pretrainedModelDir(architecture));
  for (let w = 0; w < 5; w++) inspectModel(model, train, { batchSize: 32 }); // warm-up (kernels compiled, code optimised: a site inspects every round)
  const t0 = performance.now();
  for (let r = 0; r < REPEATS; r++) inspectModel(model, train, { batchSize: 32 });
  const inspectMs = (performance.now() - t0) / REPEATS;
  const epochs: number[] = [];
  for (let e = 0; e < 4; e++) {
    const t1 = performance.now();
    await fitLocal(model, train, { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 1 });
    if (e > 0) epochs.push(performance.now() - t1);
  }
  const epochMs = epochs.sort((a, b) => a - b)[1];
  model.dispose();
  measurements[architecture] = { inspectMs, epochMs, examples: train.y.length };
  const ratio = inspectMs / epochMs;
  targets.push({
    target: `model inspection ÷ one local epoch, built-in ${architecture} (${train.y.length} examples; at most)`,
    goal: 0.05,
    measured: Number(ratio.toFixed(4)),
    unit: 'ratio',
    met: ratio <= 0.05,
    note: `${inspectMs.toFixed(1)} ms per check, ${epochMs.toFixed(0)} ms per epoch, load ${loadavg()[0].toFixed(1)}`,
  });
  console.log(`${architecture}: ${inspectMs.toFixed(1)} ms per check, one epoch ${epochMs.toFixed(0)} ms (${train.y.length} examples): ratio ${ratio.toFixed(3)}`);
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'model-inspection.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ backend: backend.choice, date: new Date().toISOString(), measurements, targets }, null, 2)}\n`);
console.log(`wrote ${out}`);
