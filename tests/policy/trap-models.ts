import * as tf from '@tensorflow/tfjs';
import { featureSize, SeededRandom, type Dataset } from '@fedtune/shared';

/**
 * Malicious models from the federated-learning literature, built as a curious coordinator would: from
 * auxiliary data of the same kind as the sites' (here the built-in task's holdout), never the sites' own.
 */

/** Values of v·x (+ nothing) for every example of `aux`, sorted ascending. */
function sortedProjections(aux: Dataset, directions: Float32Array, units: number): Float32Array[] {
  const f = featureSize(aux);
  const n = aux.y.length;
  const out = tf.tidy(() => tf.matMul(tf.tensor2d(aux.x, [n, f]), tf.tensor2d(directions, [f, units])).transpose().arraySync() as number[][]);
  return out.map((row) => Float32Array.from(row).sort());
}

/**
 * Trap weights (Boenisch et al. 2021, "When the Curious Abandon Honesty"): a wide first Dense+ReLU layer
 * whose rows are random and whose biases are negative, set so each unit fires for about one example in
 * `batch` of the auxiliary data. In a site's batch most units then fire for none or exactly one example,
 * and a unit that fired for one example has weight gradient = (its bias gradient) × that example.
 */
export function trapWeightsMlp(aux: Dataset, options: { units: number; batch: number; seed?: number; numClasses?: number }): tf.LayersModel {
  const f = featureSize(aux);
  const rng = new SeededRandom(options.seed ?? 1);
  const kernel = new Float32Array(f * options.units);
  for (let i = 0; i < kernel.length; i++) kernel[i] = rng.normal() / Math.sqrt(f);
  const projections = sortedProjections(aux, kernel, options.units);
  // Threshold at the (1 − 1/batch) quantile: each unit fires for ≈ one example of a batch.
  const bias = projections.map((p) => -p[Math.min(p.length - 1, Math.floor(p.length * (1 - 1 / options.batch)))]);
  return twoLayerMlp(f, kernel, Float32Array.from(bias), options.units, options.numClasses ?? aux.numClasses, rng);
}

/**
 * An imprint (binning) module (Fowl et al. 2022, "Robbing the Fed"): every unit measures the same direction
 * (mean brightness), with biases at ascending quantiles of it, so unit k fires for the examples above the
 * k-th threshold. The next layer weighs every bin alike, so two consecutive bins' gradients differ by exactly
 * the one example between their thresholds: (∇W_k − ∇W_{k+1}) / (∇b_k − ∇b_{k+1}) = that example.
 */
export function imprintMlp(aux: Dataset, options: { bins: number; seed?: number; numClasses?: number }): tf.LayersModel {
  const f = featureSize(aux);
  const rng = new SeededRandom(options.seed ?? 2);
  const direction = new Float32Array(f).fill(1 / Math.sqrt(f));
  const kernel = new Float32Array(f * options.bins);
  for (let i = 0; i < f; i++) for (let k = 0; k < options.bins; k++) kernel[i * options.bins + k] = direction[i];
  const [projection] = sortedProjections(aux, direction, 1);
  const bias = new Float32Array(options.bins);
  for (let k = 0; k < options.bins; k++) bias[k] = -projection[Math.floor((projection.length * k) / options.bins)];
  const classes = options.numClasses ?? aux.numClasses;
  const model = twoLayerMlp(f, kernel, bias, options.bins, classes, rng);
  // The same outgoing weights for every bin (so every bin passes an example the same gradient).
  const row = Array.from({ length: classes }, () => rng.normal());
  tf.tidy(() => model.layers[1].setWeights([tf.tensor2d(Array.from({ length: options.bins }, () => row)), tf.zeros([classes])]));
  return model;
}

/** A Glorot-initialised MLP with the same shapes as a trap model (what an honest coordinator would send untrained). */
export function glorotMlp(features: number, units: number, numClasses: number, seed = 3): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units, activation: 'relu', inputShape: [features], kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

/**
 * Trap weights in a convolution (Boenisch's conv variant): 28×28 input seen by one big 28×28 'valid' kernel
 * per filter, so each filter is one unit over the whole image, with trap biases.
 */
export function trapWeightsConv(aux: Dataset, options: { filters: number; batch: number; seed?: number }): tf.LayersModel {
  const f = featureSize(aux);
  const side = Math.round(Math.sqrt(f));
  const dense = trapWeightsMlp(aux, { units: options.filters, batch: options.batch, seed: options.seed });
  const [kernel, bias] = dense.layers[0].getWeights();
  const model = tf.sequential({
    layers: [
      tf.layers.reshape({ targetShape: [side, side, 1], inputShape: [f] }),
      tf.layers.conv2d({ filters: options.filters, kernelSize: side, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: aux.numClasses }),
    ],
  });
  tf.tidy(() => model.layers[1].setWeights([kernel.reshape([side, side, 1, options.filters]), bias]));
  dense.dispose();
  return model;
}

function twoLayerMlp(features: number, kernel: Float32Array, bias: Float32Array, units: number, numClasses: number, rng: SeededRandom): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units, activation: 'relu', inputShape: [features] }), tf.layers.dense({ units: numClasses })],
  });
  const out = new Float32Array(units * numClasses);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() / Math.sqrt(units);
  tf.tidy(() => {
    model.layers[0].setWeights([tf.tensor2d(kernel, [features, units]), tf.tensor1d(bias)]);
    model.layers[1].setWeights([tf.tensor2d(out, [units, numClasses]), tf.zeros([numClasses])]);
  });
  return model;
}

/**
 * A binning module in a convolution: `filters` filters of a `kernel`×`kernel` 'valid' convolution on the 28×28
 * image, all with the same direction (uniform over the patch) and ascending biases. With `kernel` = 3 this is
 * what adversarial training makes of a CNN's first convolution by itself (Madry et al. 2018: thresholding
 * filters, one direction at several thresholds); such a unit's gradient holds a 3×3 patch, not an example.
 */
export function binningConv(aux: Dataset, options: { filters: number; kernel: number; honestFilters?: number; seed?: number }): tf.LayersModel {
  const f = featureSize(aux);
  const side = Math.round(Math.sqrt(f));
  const rng = new SeededRandom(options.seed ?? 4);
  const honest = options.honestFilters ?? 0;
  const filters = options.filters + honest;
  const fanIn = options.kernel * options.kernel;
  const kernel = new Float32Array(fanIn * filters);
  const bias = new Float32Array(filters);
  for (let i = 0; i < fanIn; i++) {
    for (let k = 0; k < filters; k++) kernel[i * filters + k] = k < options.filters ? 1 / Math.sqrt(fanIn) : rng.normal() / Math.sqrt(fanIn);
  }
  for (let k = 0; k < options.filters; k++) bias[k] = -(0.1 + (k * 1.5) / options.filters);
  const model = tf.sequential({
    layers: [
      tf.layers.reshape({ targetShape: [side, side, 1], inputShape: [f] }),
      tf.layers.conv2d({ filters, kernelSize: options.kernel, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: aux.numClasses }),
    ],
  });
  tf.tidy(() => model.layers[1].setWeights([tf.tensor4d(kernel, [options.kernel, options.kernel, 1, filters]), tf.tensor1d(bias)]));
  return model;
}
