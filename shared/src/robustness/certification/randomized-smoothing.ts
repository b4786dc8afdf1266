import * as tf from '@tensorflow/tfjs';
import { tidyValues } from '../../learning/tidy-values.ts';
import { featureSize, subset, type Dataset } from '../../data/dataset.ts';
import { FedtuneError } from '../../errors.ts';
import { modelInputShape } from '../../learning/dataset-tensors.ts';
import { deriveSeed, SeededRandom } from '../../random/seeded-random.ts';
import type { CertificationReport } from './certification-report.ts';
import { SmoothingConfig, type SmoothingConfigInput } from './smoothing-config.ts';
import { clopperPearsonLower } from './clopper-pearson.ts';
import { normalQuantile } from './normal-quantile.ts';
import { predictAll } from '../../learning/predict-all.ts';
import { nextTurn } from '../../client/yield-to-event-loop.ts';

/** One example's certificate: the predicted class and its L2 radius, or an abstention (prediction -1). */
export interface Certificate {
  prediction: number;
  radius: number;
  /** Lower confidence bound of the top class's probability under noise. */
  pALower: number;
}


/** The settings with the schema's defaults; a bad value is FedtuneError('config') naming the field. */
function smoothingConfig(options: SmoothingConfigInput): SmoothingConfig {
  const parsed = SmoothingConfig.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FedtuneError('config', `randomized smoothing: ${issue.path.join('.') || 'options'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Rows of noise drawn from one seed. The noise of copy r is row r mod NOISE_BLOCK of block ⌊r / NOISE_BLOCK⌋,
 * seeded by the block's index, whatever the batch size: a batch size (robustness.certify.batchSize) changes only
 * how many copies go through the model at once, never the certificate. At the default batch size (500) each
 * batch is one block, as when each batch was seeded by its own index.
 */
const NOISE_BLOCK = 500;

/** Class counts of the model's predictions on `count` noisy copies of one example (features `x`). */
function noisyCounts(model: tf.LayersModel, x: Float32Array, shape: number[], numClasses: number, count: number, sigma: number, batchSize: number, seed: number): Int32Array {
  const counts = new Int32Array(numClasses);
  // The blocks the current batch spans (a tfjs draw of fewer rows from the same seed is a prefix of a longer one).
  const blocks = new Map<number, tf.Tensor>();
  const block = (k: number): tf.Tensor => {
    let b = blocks.get(k);
    if (!b) blocks.set(k, (b = tf.randomNormal([Math.min(NOISE_BLOCK, count - k * NOISE_BLOCK), ...shape], 0, sigma, 'float32', deriveSeed(seed, k))));
    return b;
  };
  try {
    for (let done = 0; done < count; ) {
      const b = Math.min(batchSize, count - done);
      const [first, last] = [Math.floor(done / NOISE_BLOCK), Math.floor((done + b - 1) / NOISE_BLOCK)];
      for (const [k, t] of blocks) if (k < first) (t.dispose(), blocks.delete(k));
      for (let k = first; k <= last; k++) block(k);
      const predicted = tidyValues(() => {
        const parts: tf.Tensor[] = [];
        for (let k = first; k <= last; k++) {
          const from = Math.max(done, k * NOISE_BLOCK) - k * NOISE_BLOCK;
          const to = Math.min(done + b, (k + 1) * NOISE_BLOCK) - k * NOISE_BLOCK;
          const t = block(k);
          parts.push(from === 0 && to === t.shape[0] ? t : tf.slice(t, from, to - from));
        }
        const noise = parts.length === 1 ? parts[0]! : tf.concat(parts);
        const clean = tf.tensor(x, [1, ...shape], 'float32');
        const noisy = tf.add(tf.broadcastTo(clean, [b, ...shape]), noise);
        return tf.argMax(predictAll(model, noisy), 1);
      });
      for (const c of predicted) if (c >= 0 && c < numClasses) counts[c]++;
      done += b;
    }
  } finally {
    for (const t of blocks.values()) t.dispose();
  }
  return counts;
}

function argMax(counts: Int32Array): number {
  let best = 0;
  for (let c = 1; c < counts.length; c++) if (counts[c] > counts[best]) best = c;
  return best;
}

/**
 * CERTIFY (Cohen et al. 2019) for one example: the top class of n0 noisy predictions, then the one-sided
 * Clopper–Pearson lower bound pA of its probability from n fresh ones; radius σ·Φ⁻¹(pA), or an abstention
 * (prediction -1, radius 0) when pA ≤ 1/2. `seed` fixes the noise.
 */
export function certifyExample(model: tf.LayersModel, x: Float32Array, numClasses: number, settings: SmoothingConfigInput = {}): Certificate {
  const options = smoothingConfig(settings);
  const shape = modelInputShape(model);
  const selection = noisyCounts(model, x, shape, numClasses, options.n0, options.sigma, options.batchSize, deriveSeed(options.seed, 'select'));
  const top = argMax(selection);
  const estimation = noisyCounts(model, x, shape, numClasses, options.n, options.sigma, options.batchSize, deriveSeed(options.seed, 'estimate'));
  const pALower = clopperPearsonLower(estimation[top], options.n, options.alpha);
  if (pALower <= 0.5) return { prediction: -1, radius: 0, pALower };
  return { prediction: top, radius: options.sigma * normalQuantile(pALower), pALower };
}

/**
 * Certified accuracy of the Gaussian-smoothed `model` (which outputs logits) on a seeded sample of `data`
 * at each L2 radius, the abstention rate and the settings that qualify it (σ, n0, n, α). The noise is not
 * clipped to the input range (the certificate is about the smoothed classifier itself). Every tensor is
 * in `tidy`; yields to the event loop between examples.
 */
export async function certifySmoothed(model: tf.LayersModel, data: Dataset, settings: SmoothingConfigInput = {}): Promise<CertificationReport> {
  const started = Date.now();
  const o = smoothingConfig(settings);
  const total = data.y.length;
  const m = Math.min(total, o.examples);
  const order = new SeededRandom(deriveSeed(o.seed, 'certify-sample')).shuffle(Array.from({ length: total }, (_, i) => i)).slice(0, m);
  const ds = subset(data, order);
  const f = featureSize(ds);
  const certificates: Array<Certificate & { label: number }> = [];
  for (let i = 0; i < m; i++) {
    const c = certifyExample(model, ds.x.subarray(i * f, (i + 1) * f), ds.numClasses, { ...o, seed: deriveSeed(o.seed, 'certify', i) });
    certificates.push({ ...c, label: ds.y[i] });
    await nextTurn();
  }
  const correct = certificates.filter((c) => c.prediction === c.label);
  return {
    sigma: o.sigma,
    n0: o.n0,
    n: o.n,
    alpha: o.alpha,
    examples: m,
    seed: o.seed,
    radii: o.radii.map((radius) => ({ radius, accuracy: m ? correct.filter((c) => c.radius >= radius).length / m : 0 })),
    abstainRate: m ? certificates.filter((c) => c.prediction < 0).length / m : 0,
    maxRadius: Math.max(0, o.sigma * normalQuantile(clopperPearsonLower(o.n, o.n, o.alpha))),
    meanRadius: correct.length ? correct.reduce((s, c) => s + c.radius, 0) / correct.length : 0,
    durationMs: Date.now() - started,
  };
}
