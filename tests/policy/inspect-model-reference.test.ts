import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstLayerStats, ModelInspectionThresholds, SeededRandom, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head } from '../helpers/federation.ts';
import { binningConv, glorotMlp, imprintMlp, trapWeightsConv, trapWeightsMlp } from './trap-models.ts';

/**
 * The inspection's fast paths (the firing test as a max over positions plus the bias, the sketch's Gram matrix on
 * the backend, each pair projected once) measure exactly what the definitions say: this file computes the same
 * stats the plain way — every position's pre-activation compared with zero, every pair of rows' exact cosine — and
 * compares them number for number over Dense, Conv1D and Conv2D first layers of honest, trap and imprint models.
 */

/** Units fired per example, by definition: z = the layer's linear part + bias at every position, z > 0 anywhere. */
function firesByDefinition(layer: tf.layers.Layer, x: tf.Tensor): Uint8Array {
  const [kernel, bias] = layer.getWeights();
  const units = kernel.shape[kernel.shape.length - 1] as number;
  const cfg = layer.getConfig() as { strides?: number | number[]; padding?: string };
  const z = tf.tidy(() => {
    let lin: tf.Tensor;
    if (layer.getClassName() === 'Dense') lin = tf.matMul(x.reshape([-1, kernel.shape[0] as number]), kernel as tf.Tensor2D);
    else if (layer.getClassName() === 'Conv1D') lin = tf.conv1d(x as tf.Tensor3D, kernel as tf.Tensor3D, Array.isArray(cfg.strides) ? cfg.strides[0] : (cfg.strides ?? 1), cfg.padding === 'same' ? 'same' : 'valid');
    else lin = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, (cfg.strides ?? 1) as number | [number, number], cfg.padding === 'same' ? 'same' : 'valid');
    return bias ? lin.add(bias) : lin;
  });
  const values = z.dataSync();
  z.dispose();
  const n = x.shape[0] as number;
  const positions = values.length / (n * units);
  const fires = new Uint8Array(n * units);
  for (let e = 0; e < n; e++) for (let p = 0; p < positions; p++) for (let u = 0; u < units; u++) if (values[(e * positions + p) * units + u] > 0) fires[e * units + u] = 1;
  return fires;
}

/** Live, sparse and isolated counts from the fire pattern, batch by batch (the definitions of docs/site-policy.md). */
function sparsityByDefinition(fires: Uint8Array, n: number, batch: number, units: number, maxFiresPerBatch: number, minBatch: number) {
  const fired = new Array<number>(units).fill(0);
  const isolated = new Set<number>();
  let batches = 0;
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    if (size < minBatch) break;
    batches++;
    for (let u = 0; u < units; u++) {
      const who: number[] = [];
      for (let e = start; e < start + size; e++) if (fires[e * units + u]) who.push(e);
      fired[u] += who.length;
      if (who.length === 1) isolated.add(who[0]);
    }
  }
  const live = fired.filter((c) => c > 0);
  return { liveUnits: live.length, sparseUnits: live.filter((c) => c <= maxFiresPerBatch * batches).length, isolatedExamples: isolated.size };
}

/** Units with a partner at |cos| ≥ minCosine (exact, every ordered pair) and a different threshold. */
function duplicatesByDefinition(layer: tf.layers.Layer, minCosine: number): number {
  const [kernel, bias] = layer.getWeights();
  const units = kernel.shape[kernel.shape.length - 1] as number;
  const fanIn = kernel.size / units;
  const k = kernel.dataSync();
  const b = bias ? bias.dataSync() : new Float32Array(units);
  const rows: Float64Array[] = [];
  const thr: number[] = [];
  for (let u = 0; u < units; u++) {
    let sq = 0;
    for (let i = 0; i < fanIn; i++) sq += k[i * units + u] * k[i * units + u];
    const norm = Math.sqrt(sq);
    rows.push(Float64Array.from({ length: fanIn }, (_, i) => (norm > 0 ? Math.fround(k[i * units + u] / norm) : 0)));
    thr.push(norm > 0 ? b[u] / norm : Number.NaN);
  }
  let count = 0;
  for (let i = 0; i < units; i++) {
    if (Number.isNaN(thr[i])) continue;
    for (let j = 0; j < units; j++) {
      if (j === i || Number.isNaN(thr[j])) continue;
      let c = 0;
      for (let d = 0; d < fanIn; d++) c += rows[i][d] * rows[j][d];
      const other = c > 0 ? thr[j] : -thr[j];
      if (Math.abs(c) >= minCosine && Math.abs(thr[i] - other) > 1e-6 * (1 + Math.abs(thr[i]))) {
        count++;
        break;
      }
    }
  }
  return count;
}

/** A Dense layer with duplicated and anti-parallel rows at distinct and equal thresholds, and a zero row. */
function craftedDense(features: number): tf.LayersModel {
  const rng = new SeededRandom(11);
  const units = 24;
  const k = new Float32Array(features * units);
  const b = new Float32Array(units);
  const base = Array.from({ length: features }, () => rng.normal());
  for (let u = 0; u < units; u++) {
    for (let i = 0; i < features; i++) {
      const own = rng.normal();
      // units 0–5: one direction at thresholds 0, 0.1, …; 6–7: its negation (anti-parallel) with the negated
      // threshold of unit 0 (the same bin: not counted on their own) and another; 8: a copy of unit 0 (redundant);
      // 9: nearly parallel (cos ≈ 0.995); 10: a zero row; the rest: random.
      const v = u <= 5 || u === 8 ? base[i] * (1 + u / 10) : u === 6 || u === 7 ? -base[i] : u === 9 ? base[i] + 0.1 * own : u === 10 ? 0 : own;
      k[i * units + u] = v;
    }
  }
  for (let u = 0; u <= 5; u++) b[u] = 0.1 * u * (1 + u / 10);
  b[6] = 0;
  b[7] = 0.35;
  b[8] = 0;
  b[9] = 0.05;
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [features], units, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
  model.layers[0].setWeights([tf.tensor2d(k, [features, units]), tf.tensor1d(b)]);
  return model;
}

/** Two units on one direction (the second scaled by `scale`, negative: anti-parallel) with biases `biases`, then random units. */
function pairDense(features: number, scale: number, biases: [number, number]): tf.LayersModel {
  const rng = new SeededRandom(12);
  const units = 8;
  const k = new Float32Array(features * units);
  for (let i = 0; i < features; i++) {
    const v = rng.normal();
    k[i * units] = v;
    k[i * units + 1] = scale * v;
    for (let u = 2; u < units; u++) k[i * units + u] = rng.normal();
  }
  const b = new Float32Array(units);
  b.set(biases);
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [features], units, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
  model.layers[0].setWeights([tf.tensor2d(k, [features, units]), tf.tensor1d(b)]);
  return model;
}

/**
 * Two units on nearly one direction — the second is `scale` × (the first + `noise` × a random row: cos ≈
 * 1/√(1 + noise²)) — with biases `biases`, a zero row with bias `zeroBias`, then random units.
 */
function nearPairDense(features: number, scale: number, noise: number, biases: [number, number], zeroBias: number): tf.LayersModel {
  const rng = new SeededRandom(13);
  const units = 8;
  const k = new Float32Array(features * units);
  for (let i = 0; i < features; i++) {
    const v = 3 * rng.normal();
    k[i * units] = v;
    k[i * units + 1] = scale * (v + 3 * noise * rng.normal());
    for (let u = 3; u < units; u++) k[i * units + u] = rng.normal();
  }
  const b = new Float32Array(units);
  b.set([...biases, zeroBias]);
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [features], units, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
  model.layers[0].setWeights([tf.tensor2d(k, [features, units]), tf.tensor1d(b)]);
  return model;
}

/** The exact cosine of two units' rows. */
function rowCosine(layer: tf.layers.Layer, a: number, b: number): number {
  const kernel = layer.getWeights()[0];
  const units = kernel.shape[1] as number;
  const k = kernel.dataSync();
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < k.length / units; i++) {
    ab += k[i * units + a] * k[i * units + b];
    aa += k[i * units + a] ** 2;
    bb += k[i * units + b] ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

let digits: Dataset;
beforeAll(async () => {
  await selectNodeBackend();
  digits = head(builtinDigits().holdout, 300);
});

const images = (ds: Dataset): Dataset => ({ ...ds, featureShape: [28, 28, 1] });
const rowsOf = (ds: Dataset): Dataset => ({ ...ds, featureShape: [28, 28] });

describe('model inspection measures what its definitions say (inspect-model.ts against a plain reference)', () => {
  // Batches down to 2 judged (minBatch 2), to check the counting on the smallest batches too.
  const thresholds = ModelInspectionThresholds.parse({ duplicate: { minShareOfExample: 0 }, sparse: { minBatch: 2 } });
  const conv = (config: Record<string, unknown>) => () =>
    tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [28, 28, 1], kernelSize: 3, filters: 6, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }), biasInitializer: tf.initializers.constant({ value: -0.05 }), ...config }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] });
  const table: Array<[string, (d: Dataset) => tf.LayersModel, (d: Dataset) => Dataset, number]> = [
    ['an honest Glorot MLP', () => glorotMlp(784, 64, 10), (d) => d, 32],
    ['a trap-weights MLP', (d) => trapWeightsMlp(d, { units: 128, batch: 32 }), (d) => d, 32],
    ['an imprint MLP', (d) => imprintMlp(d, { bins: 32 }), (d) => d, 16],
    ['crafted rows: parallel, anti-parallel, copies, a zero row', () => craftedDense(784), (d) => d, 32],
    ['a Conv2D, valid, stride 1', conv({}), images, 32],
    ['a Conv2D, same padding, stride 2', conv({ padding: 'same', strides: 2 }), images, 20],
    ['a Conv2D 7×7 binning module', (d) => binningConv(d, { filters: 16, kernel: 7 }), (d) => d, 32],
    ['a trap-weights Conv2D', (d) => trapWeightsConv(d, { filters: 32, batch: 32 }), (d) => d, 32],
    ['a Conv1D over the rows', () => tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [28, 28], kernelSize: 4, filters: 12, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] }), rowsOf, 25],
    // 256 examples in batches of 15 end with a batch of one (not counted); batches of 2 are the smallest counted.
    ['a trap-weights MLP, batches of 15 (the last one of a single example)', (d) => trapWeightsMlp(d, { units: 128, batch: 16 }), (d) => d, 15],
    ['a trap-weights MLP, batches of 2', (d) => trapWeightsMlp(d, { units: 64, batch: 2 }), (d) => d, 2],
    ['a Dense on a sequence (rank-3 input: one position per row)', () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [28, 28], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 9 }) }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] }), rowsOf, 32],
  ];
  it.each(table)('%s', (_, build, shape, batch) => {
    const data = shape(digits);
    const model = build(digits);
    const before = tf.memory().numTensors;
    const stats = firstLayerStats(model, data, batch, thresholds)!;
    expect(tf.memory().numTensors).toBe(before);
    const layer = model.layers.find((l) => ['Dense', 'Conv1D', 'Conv2D'].includes(l.getClassName()))!;
    const n = Math.min(data.y.length, thresholds.maxSampleExamples);
    // Every layer before the inspected one here only reshapes: its input is the examples' values in their order.
    const x = tf.tensor(data.x.subarray(0, n * 784), [n, ...((layer.input as tf.SymbolicTensor).shape.slice(1) as number[])]);
    const fires = firesByDefinition(layer, x);
    x.dispose();
    const units = fires.length / n;
    const reference = sparsityByDefinition(fires, n, batch, units, thresholds.sparse.maxFiresPerBatch, thresholds.sparse.minBatch);
    expect({ live: stats.liveUnits, sparse: stats.sparseUnits, isolated: stats.isolatedExamples }).toEqual({ live: reference.liveUnits, sparse: reference.sparseUnits, isolated: reference.isolatedExamples });
    expect(stats.duplicateUnits).toBe(duplicatesByDefinition(layer, thresholds.duplicate.minCosine));
    model.dispose();
  });

  it('the crafted rows: the five distinct thresholds of one direction, the anti-parallel unit at another threshold and the near-parallel unit count; the copy and the zero row do not', () => {
    const model = craftedDense(784);
    // 0–5 (distinct thresholds), 6 (anti-parallel to 0 with the negated threshold: differs from 1–5), 7, 8 (a copy of
    // 0: differs from 1–5) and 9 (cos ≈ 0.995 with the base direction) — every unit of the direction but the zero row.
    expect(firstLayerStats(model, digits, 32, thresholds)!.duplicateUnits).toBe(10);
    // A stricter cosine leaves out the near-parallel unit.
    expect(firstLayerStats(model, digits, 32, ModelInspectionThresholds.parse({ duplicate: { minCosine: 0.9999, minShareOfExample: 0 } }))!.duplicateUnits).toBe(9);
    model.dispose();
  });

  it.each([
    // An anti-parallel unit at the negated threshold is the same hyperplane (no bin of its own); at the same one it is not.
    ['anti-parallel, negated threshold (b2 = −2·b1 at scale −2)', -2, [0.5, -1] as [number, number], 0],
    ['anti-parallel, the same threshold', -2, [0.5, 1] as [number, number], 2],
    ['parallel, the same threshold (b2 = 2·b1 at scale 2: a copy)', 2, [0.5, 1] as [number, number], 0],
    ['parallel, another threshold', 2, [0.5, -1] as [number, number], 2],
  ])('a pair of rows on one direction: %s', (_, scale, biases, expected) => {
    const model = pairDense(784, scale, biases);
    const counted = firstLayerStats(model, digits, 32, thresholds)!.duplicateUnits;
    expect(counted).toBe(expected);
    expect(counted).toBe(duplicatesByDefinition(model.layers[0], thresholds.duplicate.minCosine));
    model.dispose();
  });
});

describe('the duplicate count\'s exact check and its edges', () => {
  const at = (minCosine: number) => ModelInspectionThresholds.parse({ duplicate: { minCosine, minShareOfExample: 0 } });

  it.each([
    // cos ≈ 0.98: a candidate of the sketch (≥ 0.9), which only the exact cosine decides, on rows of norm ≈ 84 and 3 × that
    ['0.99: the exact cosine rejects it', 0.99, 0],
    ['0.97: the exact cosine accepts it', 0.97, 2],
    ['0.5', 0.5, 2],
  ])('a near-parallel pair (cos ≈ 0.98) at another threshold, at minCosine %s', (_, minCosine, expected) => {
    const model = nearPairDense(784, 3, 0.2, [0.5, -1], 0);
    const cos = rowCosine(model.layers[0], 0, 1);
    expect(cos).toBeGreaterThan(0.97);
    expect(cos).toBeLessThan(0.99);
    const counted = firstLayerStats(model, digits, 32, at(minCosine))!.duplicateUnits;
    expect(counted).toBe(expected);
    expect(counted).toBe(duplicatesByDefinition(model.layers[0], minCosine));
    model.dispose();
  });

  it.each([
    // thresholds b / ‖w‖ ≈ 12: copies whose biases differ by one float32 step at 1000 are the same hyperplane (within 1e-6 relative) …
    ['by a float32 step at 1000: the same threshold', [1000, 1000.0001] as [number, number], 0],
    // … and by 1 at 1000 they are not
    ['by 1 at 1000: another threshold', [1000, 1001] as [number, number], 2],
  ])('copies whose biases differ %s', (_, biases, expected) => {
    const model = nearPairDense(784, 1, 0, biases, 0);
    expect(firstLayerStats(model, digits, 32, at(0.99))!.duplicateUnits).toBe(expected);
    expect(duplicatesByDefinition(model.layers[0], 0.99)).toBe(expected);
    model.dispose();
  });

  it('a zero row with a bias is nobody\'s duplicate, even where every pair is a candidate (minCosine 0.5)', () => {
    // Unit 2 is all zeros with bias 0.7; units 0 and 1 are nearly parallel at distinct thresholds, 3–7 random.
    const model = nearPairDense(784, 3, 0.2, [0.5, -1], 0.7);
    expect(firstLayerStats(model, digits, 32, at(0.5))!.duplicateUnits).toBe(2);
    expect(duplicatesByDefinition(model.layers[0], 0.5)).toBe(2);
    model.dispose();
  });
});

describe('what the inspection measures at the edges of its sample', () => {
  const small = ModelInspectionThresholds.parse({ duplicate: { minShareOfExample: 0 }, sparse: { minBatch: 2 } });
  const byDefault = ModelInspectionThresholds.parse({ duplicate: { minShareOfExample: 0 } });
  const thresholds = small;

  it('a model without a Dense or convolution layer has nothing to inspect', () => {
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28] }), tf.layers.activation({ activation: 'softmax' })] });
    expect(firstLayerStats(model, digits, 32, thresholds)).toBeUndefined();
    model.dispose();
  });

  it.each([
    // [examples in the sample, batch size, whether firing is measured, thresholds]
    [1, 32, false, small],
    [2, 32, true, small],
    [300, 1, false, small],
    [300, 2, true, small],
    // The default minBatch (8): a smaller site or batch is not judged (an honest model would look sparse).
    [7, 32, false, byDefault],
    [8, 32, true, byDefault],
    [300, 7, false, byDefault],
    [300, 8, true, byDefault],
    [20, 8, true, byDefault], // batches of 8, 8 and 4: the last one is too small and left out
  ] as const)('%i examples in batches of %i: firing measured %s', (examples, batchSize, measured, thresholds) => {
    const model = trapWeightsMlp(digits, { units: 32, batch: 2 });
    const sample = head(digits, examples);
    const stats = firstLayerStats(model, sample, batchSize, thresholds)!;
    expect(stats.sampleExamples).toBe(Math.min(examples, thresholds.maxSampleExamples));
    if (!measured) expect([stats.liveUnits, stats.sparseUnits, stats.isolatedExamples]).toEqual([undefined, undefined, undefined]);
    else {
      const n = stats.sampleExamples;
      const x = tf.tensor2d(sample.x.subarray(0, n * 784), [n, 784]);
      const fires = firesByDefinition(model.layers[0], x);
      x.dispose();
      const reference = sparsityByDefinition(fires, n, stats.batch, 32, thresholds.sparse.maxFiresPerBatch, thresholds.sparse.minBatch);
      expect(reference.liveUnits).toBeGreaterThan(0);
      expect({ live: stats.liveUnits, sparse: stats.sparseUnits, isolated: stats.isolatedExamples }).toEqual({ live: reference.liveUnits, sparse: reference.sparseUnits, isolated: reference.isolatedExamples });
    }
    model.dispose();
  });
});

describe('the inspection thresholds\' defaults (docs/site-policy.md#model-inspection)', () => {
  it('are the documented ones', () => {
    expect(ModelInspectionThresholds.parse({})).toEqual({
      maxSampleExamples: 256,
      sparse: { minBatch: 8, maxFiresPerBatch: 1.5, minShare: 0.2, minUnits: 8, minIsolatedShare: 0.5 },
      duplicate: { minCosine: 0.99, minUnits: 4, minFanIn: 8, minShareOfExample: 1 / 16 },
      wide: { unitsPerFeature: 4 },
    });
  });
});
