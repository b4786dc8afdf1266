/**
 * `npx tsx bench/robustness.ts`: robustness of the pretrained digits model of the robust preset (cnn-dense)
 * fine-tuned centrally, plainly vs with the preset's adversarial training (robustPreset), on the same site
 * data and seed, and the cost of the full
 * robustness evaluation of 2,000 examples against one clean pass over the same examples in the same run.
 * Writes bench/results/robustness.json. `--quick` uses 400 examples.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { concatDatasets, evaluateModel, evaluateRobustness, fitLocal, robustPreset, subset, type RobustnessReport, type TrainConfig } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, describeBackend, selectNodeBackend } from '@fedtune/shared/node';

const quick = process.argv.includes('--quick');
const EXAMPLES = quick ? 400 : 2000;
const EPOCHS = quick ? 1 : 3;
const preset = robustPreset();

const backend = await selectNodeBackend();
console.log(describeBackend(backend));
const sites = builtinDigitsSites({ sites: 8, partition: { kind: 'iid' }, seed: 42 });
// Training: two sites' data (~2,000 digits). Evaluation: the holdout plus site 8's data (never trained on).
const train = concatDatasets([sites[0], sites[1]]);
const evalData = subset(concatDatasets([builtinDigits().holdout, sites[7]]), Array.from({ length: EXAMPLES }, (_, i) => i));
const base: TrainConfig = { epochs: EPOCHS, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 1 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const arms: Record<string, { trainMs: number; fit: unknown; report: RobustnessReport; cleanPassMs: number }> = {};
for (const [name, options] of [['plain', preset.plain], ['adversarial', preset.adversarial]] as const) {
  const model = await loadModelDir(pretrainedModelDir(preset.architecture));
  let t = performance.now();
  const fit = await fitLocal(model, train, { ...base, ...options });
  const trainMs = performance.now() - t;
  // One clean pass over the same examples (median of 3), then the full evaluation of all of them.
  evaluateModel(model, evalData);
  const passes = [0, 1, 2].map(() => {
    const s = performance.now();
    evaluateModel(model, evalData);
    return performance.now() - s;
  });
  const cleanPassMs = median(passes);
  t = performance.now();
  const report = await evaluateRobustness(model, evalData, { examples: EXAMPLES, adversarialExamples: EXAMPLES });
  console.log(`${name}: trained ${(trainMs / 1000).toFixed(1)} s; clean ${(100 * report.clean.accuracy).toFixed(1)}%, ECE ${report.clean.ece.toFixed(3)}, corruption mean ${(100 * (report.corruptionMean ?? NaN)).toFixed(1)}%, PGD ${report.pgd.map((p) => `${p.eps}:${(100 * p.accuracy).toFixed(1)}%`).join(' ')}; full evaluation ${(report.durationMs / 1000).toFixed(1)} s vs clean pass ${cleanPassMs.toFixed(0)} ms`);
  arms[name] = { trainMs, fit, report, cleanPassMs };
  model.dispose();
}

const row = (r: RobustnessReport) => ({
  clean: r.clean.accuracy,
  ece: r.clean.ece,
  macroF1: r.clean.macroF1,
  noise: Object.fromEntries(r.noise.map((n) => [n.sigma, n.accuracy])),
  corruptionMean: r.corruptionMean,
  worstCorruption: r.worstCorruption,
  corruptions: Object.fromEntries(r.corruptions.map((c) => [c.name, c.accuracy])),
  fgsm: Object.fromEntries(r.fgsm.map((a) => [a.eps, a.accuracy])),
  pgd: Object.fromEntries(r.pgd.map((a) => [a.eps, a.accuracy])),
  warnings: r.warnings,
});

const plain = arms.plain;
const result = {
  date: new Date().toISOString(),
  backend: backend.backend,
  cpus: (await import('node:os')).cpus().length,
  setup: {
    model: `committed pretrained digits ${preset.architecture}`,
    train: `${train.y.length} digits (sites 1–2 of 8, iid, seed 42), ${EPOCHS} epochs, adam 0.001, batch 32, seed 1`,
    evaluation: `${EXAMPLES} digits (holdout + site 8), all attacked; PGD ${plain.report.pgd[0]?.steps} × ${plain.report.pgd[0]?.stepSize}`,
    adversarial: preset.adversarial,
  },
  arms: Object.fromEntries(Object.entries(arms).map(([k, v]) => [k, { trainSeconds: v.trainMs / 1000, ...row(v.report) }])),
  evaluationCost: {
    examples: EXAMPLES,
    fullEvaluationMs: plain.report.durationMs,
    cleanPassMs: plain.cleanPassMs,
    ratio: plain.report.durationMs / plain.cleanPassMs,
    partsMs: plain.report.timings,
  },
  tensorsAtEnd: tf.memory().numTensors,
};
const dir = join('bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, quick ? 'robustness-quick.json' : 'robustness.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result.evaluationCost));
