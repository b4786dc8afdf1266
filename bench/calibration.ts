/**
 * `npx tsx bench/calibration.ts` (`npm run bench:calibration`): temperature scaling and randomized
 * smoothing on the committed pretrained digits MLP and CNN and on the MLP fine-tuned plainly and
 * adversarially (the robust preset's adversarial arm, the under-confident one). The temperature is fitted two ways: on the
 * built-in holdout (centrally, and federated over 4 shares of it: the same T to 1e-6), and federated over
 * sites 3–7 (their data, sums only; other scanners than the holdout's). ECE/NLL are measured on site 8's
 * digits (never trained or fitted on). Certification cost is measured against one clean pass over the same
 * examples in the same run. Writes bench/results/calibration.json. `--quick`: fewer certified examples.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { fitFederatedTemperature } from '../coordinator/src/engine/federated-calibration.ts';
import {
  calibrationReport,
  certifySmoothed,
  concatDatasets,
  evaluateModel,
  fitLocal,
  fitTemperature,
  modelLogits,
  robustPreset,
  SmoothingConfig,
  subset,
  temperatureStats,
  type Dataset,
  type TrainConfig,
} from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, describeBackend, selectNodeBackend } from '@fedtune/shared/node';

const quick = process.argv.includes('--quick');
const CERTIFY_EXAMPLES = quick ? 10 : 40;
const backend = await selectNodeBackend();
console.log(describeBackend(backend));
const sites = builtinDigitsSites({ sites: 8, partition: { kind: 'iid' }, seed: 42 });
const train = concatDatasets([sites[0], sites[1]]);
const fitData = builtinDigits().holdout;
const evalData = sites[7];
const base: TrainConfig = { epochs: 5, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 1 };
const smoothing = SmoothingConfig.parse({ examples: CERTIFY_EXAMPLES });
const holdoutShares = [0, 1, 2, 3].map((s) => subset(fitData, Array.from({ length: Math.ceil((fitData.y.length - s) / 4) }, (_, i) => i * 4 + s)));
const otherSites = sites.slice(2, 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Federated fit over `shares` (one site each), each answering with its sums only. */
async function federatedTemperature(model: tf.LayersModel, shares: Dataset[]): Promise<number> {
  const logits = shares.map((d) => modelLogits(model, d));
  const fit = await fitFederatedTemperature(async (betas) => new Map(shares.map((d, s) => [`site-${s}`, { betas: [...betas], count: d.y.length, stats: temperatureStats(logits[s], d.y, betas) }])));
  return fit.temperature;
}

async function measure(name: string, model: tf.LayersModel, certifyExamples: number) {
  const certify = certifyExamples > 0;
  const temperature = fitTemperature(modelLogits(model, fitData), fitData.y);
  const federated = await federatedTemperature(model, holdoutShares);
  const sitesTemperature = await federatedTemperature(model, otherSites);
  const evalLogits = modelLogits(model, evalData);
  const report = calibrationReport(evalLogits, evalData.y, { temperature, source: 'holdout', fittedOn: fitData.y.length });
  const bySites = calibrationReport(evalLogits, evalData.y, { temperature: sitesTemperature, source: 'federated', fittedOn: 0 });
  const accuracy = evaluateModel(model, evalData).accuracy;
  const row: Record<string, unknown> = {
    accuracy,
    eceBefore: report.eceBefore,
    nllBefore: report.nllBefore,
    holdout: { temperature, eceAfter: report.eceAfter, nllAfter: report.nllAfter, federatedOverSharesDiffers: Math.abs(federated - temperature) },
    federatedSites: { temperature: sitesTemperature, eceAfter: bySites.eceAfter, nllAfter: bySites.nllAfter },
  };
  let line = `${name}: accuracy ${(100 * accuracy).toFixed(1)}%, ECE ${report.eceBefore.toFixed(3)}, NLL ${report.nllBefore.toFixed(3)}; holdout T ${temperature.toFixed(3)} (federated over 4 shares differs by ${Math.abs(federated - temperature).toExponential(1)}) → ECE ${report.eceAfter.toFixed(3)}, NLL ${report.nllAfter.toFixed(3)}; sites 3–7 federated T ${sitesTemperature.toFixed(3)} → ECE ${bySites.eceAfter.toFixed(3)}, NLL ${bySites.nllAfter.toFixed(3)}`;
  if (certify) {
    const examples = subset(evalData, Array.from({ length: certifyExamples }, (_, i) => i));
    evaluateModel(model, examples);
    const cleanPassMs = median([0, 1, 2].map(() => {
      const t = performance.now();
      evaluateModel(model, examples);
      return performance.now() - t;
    }));
    const c = await certifySmoothed(model, examples, { ...smoothing, examples: certifyExamples });
    row.certification = { ...c, cleanPassMs, costRatio: c.durationMs / cleanPassMs };
    line += `; certified (σ ${c.sigma}, n ${c.n}, α ${c.alpha}) ${c.radii.map((r) => `r=${r.radius}:${(100 * r.accuracy).toFixed(0)}%`).join(' ')}, abstained ${(100 * c.abstainRate).toFixed(0)}%, ${(c.durationMs / 1000).toFixed(1)} s = ${(c.durationMs / cleanPassMs).toFixed(0)}× a clean pass (${cleanPassMs.toFixed(1)} ms)`;
  }
  console.log(line);
  return row;
}

const models: Record<string, Record<string, unknown>> = {};
for (const arch of ['mlp', 'cnn']) {
  const model = await loadModelDir(pretrainedModelDir(arch));
  // The CNN's forward pass is far slower on wasm: fewer certified examples (the ratio is per example).
  models[`pretrained ${arch}`] = await measure(`pretrained ${arch}`, model, arch === 'cnn' ? Math.max(5, CERTIFY_EXAMPLES / 4) : CERTIFY_EXAMPLES);
  model.dispose();
}
const preset = robustPreset();
const ROBUST_ARMS = { plain: preset.plain, adversarial: preset.adversarial };
for (const [arm, options] of Object.entries(ROBUST_ARMS)) {
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  await fitLocal(model, train, { ...base, ...options });
  models[`mlp fine-tuned ${arm}`] = await measure(`mlp fine-tuned ${arm}`, model, arm === 'adversarial' ? CERTIFY_EXAMPLES : 0);
  model.dispose();
}

const result = {
  date: new Date().toISOString(),
  backend: backend.backend,
  setup: {
    fit: `temperature fitted on the built-in holdout (${fitData.y.length} digits; federated over 4 shares of it gives the same T), and federated over sites 3–7 (${otherSites.reduce((n, d) => n + d.y.length, 0)} digits, sums only)`,
    evaluation: `ECE (15 bins) and NLL on site 8 of 8 (iid, seed 42; ${evalData.y.length} digits, never trained or fitted on)`,
    fineTuning: `${train.y.length} digits (sites 1–2), 5 epochs, adam 0.001, batch 32, seed 1; adversarial: ${JSON.stringify(ROBUST_ARMS.adversarial)}`,
    certification: { ...smoothing, examples: `${CERTIFY_EXAMPLES} (CNN: ${Math.max(5, CERTIFY_EXAMPLES / 4)})`, data: 'the first examples of site 8' },
  },
  models,
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'calibration.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('bench/results/calibration.json');
