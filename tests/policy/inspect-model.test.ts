import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { comparesRows, featureSize, findingsOf, fitLocal, inspectModel, ModelInspectionThresholds, splitDataset, subset, type Dataset, type FirstLayerStats } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { binningConv, glorotMlp, imprintMlp, trapWeightsConv, trapWeightsMlp } from './trap-models.ts';

const BATCH = 32;
let aux: Dataset;
let sites: Dataset[];

beforeAll(async () => {
  await selectNodeBackend();
  aux = builtinDigits().holdout;
  sites = builtinDigitsSites({ sites: 4, partition: { kind: 'dirichlet', alpha: 1 }, seed: 7 }).map((d, k) => splitDataset(d, k + 1).train);
});

/** The first-layer kernel [fanIn, units] and bias change of one local SGD step on `batch` (the site's update). */
async function siteUpdate(model: tf.LayersModel, batch: Dataset): Promise<{ dW: Float32Array; db: Float32Array; units: number }> {
  const layer = model.layers.find((l) => l.getWeights().length > 0)!;
  const before = layer.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  await fitLocal(model, batch, { epochs: 1, batchSize: batch.y.length, learningRate: 0.5, optimizer: 'sgd', trainable: 'all', seed: 1 });
  const after = layer.getWeights().map((w) => w.dataSync() as Float32Array);
  const units = before[1].length;
  return { dW: after[0].map((v, i) => v - before[0][i]), db: after[1].map((v, i) => v - before[1][i]), units };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** The best cosine of `x` to any example of `ds`, and that example's index. */
function closestExample(x: ArrayLike<number>, ds: Dataset): { index: number; cosine: number } {
  const f = featureSize(ds);
  let best = { index: -1, cosine: -Infinity };
  for (let e = 0; e < ds.y.length; e++) {
    const c = cosine(x, ds.x.subarray(e * f, (e + 1) * f));
    if (c > best.cosine) best = { index: e, cosine: c };
  }
  return best;
}

/** Column u of a [fanIn, units] kernel divided by a scalar. */
function column(dW: Float32Array, units: number, u: number, scale: number): Float32Array {
  const fanIn = dW.length / units;
  return Float32Array.from({ length: fanIn }, (_, i) => dW[i * units + u] / scale);
}

describe('the trap models work: a site update reveals training examples exactly', () => {
  it('trap weights (Boenisch): ∇W_u / ∇b_u of a unit that fired for one example is that example (cosine > 0.99)', async () => {
    const model = trapWeightsMlp(aux, { units: 512, batch: BATCH });
    const batch = subset(sites[1], Array.from({ length: BATCH }, (_, i) => i));
    const { dW, db, units } = await siteUpdate(model, batch);
    model.dispose();
    const recovered = new Set<number>();
    for (let u = 0; u < units; u++) {
      if (Math.abs(db[u]) < 1e-9) continue;
      const match = closestExample(column(dW, units, u, db[u]), batch);
      if (match.cosine > 0.99) recovered.add(match.index);
    }
    expect(recovered.size).toBeGreaterThanOrEqual(BATCH / 4);
    // And the reconstruction is the example itself, not only its direction: values equal to 1e-3.
    const u = Array.from({ length: units }, (_, i) => i).find((i) => Math.abs(db[i]) > 1e-9 && closestExample(column(dW, units, i, db[i]), batch).cosine > 0.99)!;
    const x = column(dW, units, u, db[u]);
    const target = closestExample(x, batch).index;
    const f = featureSize(batch);
    const maxError = x.reduce((m, v, i) => Math.max(m, Math.abs(v - batch.x[target * f + i])), 0);
    expect(maxError).toBeLessThan(1e-3);
  });

  it('imprint module (Fowl): (∇W_k − ∇W_k+1) / (∇b_k − ∇b_k+1) of consecutive bins is one example (cosine > 0.99)', async () => {
    const bins = 64;
    const model = imprintMlp(aux, { bins });
    const batch = subset(sites[2], Array.from({ length: BATCH }, (_, i) => i));
    const { dW, db, units } = await siteUpdate(model, batch);
    model.dispose();
    const recovered = new Set<number>();
    for (let k = 0; k + 1 < bins; k++) {
      const dbk = db[k] - db[k + 1];
      if (Math.abs(dbk) < 1e-9) continue;
      const diff = column(dW, units, k, 1).map((v, i) => v - dW[i * units + k + 1]);
      const match = closestExample(diff.map((v) => v / dbk), batch);
      if (match.cosine > 0.99) recovered.add(match.index);
    }
    expect(recovered.size).toBeGreaterThanOrEqual(BATCH / 4);
  });
});

describe('inspectModel', () => {
  it('flags the trap constructions by default, on every site', () => {
    const cases: Array<[string, () => tf.LayersModel, string]> = [
      ['trap-weights MLP, 1000 units', () => trapWeightsMlp(aux, { units: 1000, batch: BATCH }), 'sparse_activations'],
      ['trap-weights MLP, 256 units', () => trapWeightsMlp(aux, { units: 256, batch: BATCH, seed: 5 }), 'sparse_activations'],
      ['trap-weights conv, 256 filters', () => trapWeightsConv(aux, { filters: 256, batch: BATCH }), 'sparse_activations'],
      ['imprint module, 64 bins', () => imprintMlp(aux, { bins: 64 }), 'duplicate_rows'],
      ['imprint module, 8 bins', () => imprintMlp(aux, { bins: 8 }), 'duplicate_rows'],
    ];
    for (const [name, make, code] of cases) {
      const model = make();
      for (const [k, site] of sites.entries()) {
        const { findings } = inspectModel(model, site, { batchSize: BATCH });
        expect(findings.map((f) => f.code), `${name} on site ${k}`).toContain(code);
        expect(findings.find((f) => f.code === code)!.layer).toBe(model.layers.find((l) => l.getWeights().length > 0)!.name);
      }
      model.dispose();
    }
  });

  it('passes the built-in pretrained MLP, CNN and CNN-BN and Glorot-initialised models of the trap shapes', async () => {
    const models: Array<[string, () => Promise<tf.LayersModel>]> = [
      ['pretrained mlp', () => loadModelDir(pretrainedModelDir('mlp'))],
      ['pretrained cnn', () => loadModelDir(pretrainedModelDir('cnn'))],
      ['pretrained cnn-bn', () => loadModelDir(pretrainedModelDir('cnn-bn'))],
      ['glorot 784-64', async () => glorotMlp(784, 64, 10)],
      ['glorot 784-256', async () => glorotMlp(784, 256, 10, 11)],
      ['glorot 784-1000', async () => glorotMlp(784, 1000, 10, 13)],
    ];
    for (const [name, make] of models) {
      const model = await make();
      for (const [k, site] of sites.entries()) {
        for (const batchSize of [16, 32, 64]) expect(inspectModel(model, site, { batchSize }).findings, `${name} on site ${k}, batch ${batchSize}`).toEqual([]);
      }
      model.dispose();
    }
  });

  it('passes typical fine-tuning first layers (ImageNet-style convolutions, a tabular MLP) and flags an over-wide one', () => {
    const cases: Array<[string, tf.layers.Layer[], number[], boolean]> = [
      ['VGG-style 3×3×3 → 64', [tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', inputShape: [16, 16, 3] })], [16, 16, 3], false],
      ['ResNet-style 7×7×3 → 64', [tf.layers.conv2d({ filters: 64, kernelSize: 7, strides: 2, padding: 'same', activation: 'relu', inputShape: [16, 16, 3] })], [16, 16, 3], false],
      ['tabular 20 → 64', [tf.layers.dense({ units: 64, activation: 'relu', inputShape: [20] })], [20], false],
      ['tabular 20 → 128 (over-wide)', [tf.layers.dense({ units: 128, activation: 'relu', inputShape: [20] })], [20], true],
    ];
    for (const [name, layers, shape, flagged] of cases) {
      const model = tf.sequential({ layers: [...layers, ...(shape.length > 1 ? [tf.layers.flatten()] : []), tf.layers.dense({ units: 3 })] });
      const data = randomDataset(shape, 64, 3);
      const codes = inspectModel(model, data, { batchSize: 32 }).findings.map((f) => f.code);
      if (flagged) expect(codes, name).toEqual(['wide_first_layer']);
      else expect(codes, name).toEqual([]);
      model.dispose();
    }
  });

  it('uses the linear part before a separate ReLU layer, and skips the sparsity check for a linear first layer', () => {
    const trap = trapWeightsMlp(aux, { units: 256, batch: BATCH });
    const [kernel, bias] = trap.layers[0].getWeights();
    const split = tf.sequential({ layers: [tf.layers.dense({ units: 256, inputShape: [784] }), tf.layers.reLU(), tf.layers.dense({ units: 10 })] });
    const linear = tf.sequential({ layers: [tf.layers.dense({ units: 256, inputShape: [784] }), tf.layers.dense({ units: 10 })] });
    split.layers[0].setWeights([kernel, bias]);
    linear.layers[0].setWeights([kernel, bias]);
    expect(inspectModel(split, sites[1], { batchSize: BATCH }).findings.map((f) => f.code)).toEqual(['sparse_activations']);
    expect(inspectModel(linear, sites[1], { batchSize: BATCH }).findings).toEqual([]);
    for (const m of [trap, split, linear]) m.dispose();
  });

  it('a site of a handful of examples (fewer than sparse.minBatch): an honest model is not taken for trap weights', async () => {
    const mlp = await loadModelDir(pretrainedModelDir('mlp'));
    // Two examples: 18 of the pretrained MLP's 117 live units fire for one of them, and both examples are isolated.
    // Judged (minBatch 2, as before) with a share just under that (0.1), the honest model is a false alarm;
    // with the default minBatch a batch of 2 is not judged at all.
    const tiny = subset(sites[1], [0, 1]);
    const sparse = { minShare: 0.1 };
    expect(inspectModel(mlp, tiny, { batchSize: BATCH, thresholds: { sparse: { ...sparse, minBatch: 2 } } }).findings.map((f) => f.code)).toEqual(['sparse_activations']);
    expect(inspectModel(mlp, tiny, { batchSize: BATCH, thresholds: { sparse } }).findings).toEqual([]);
    for (const n of [2, 3, 7]) expect(inspectModel(mlp, subset(sites[1], Array.from({ length: n }, (_, i) => i)), { batchSize: BATCH }).findings, `${n} examples`).toEqual([]);
    mlp.dispose();
  });

  it('each threshold has its effect: loosened, the trap passes; tightened, an honest model is flagged', async () => {
    const trap = trapWeightsMlp(aux, { units: 256, batch: BATCH });
    const imprint = imprintMlp(aux, { bins: 64 });
    const mlp = await loadModelDir(pretrainedModelDir('mlp'));
    const codes = (m: tf.LayersModel, thresholds: object, batchSize = BATCH) => inspectModel(m, sites[1], { batchSize, thresholds }).findings.map((f) => f.code);
    expect(codes(trap, { sparse: { minShare: 1 } })).toEqual([]);
    expect(codes(trap, { sparse: { minUnits: 1000 } })).toEqual([]);
    expect(codes(trap, { sparse: { minIsolatedShare: 1 } })).toEqual([]);
    expect(codes(trap, { sparse: { maxFiresPerBatch: 0.01 } })).toEqual([]);
    expect(codes(trap, { sparse: { minBatch: BATCH + 1 } })).toEqual([]); // batches of 32 are then too small to judge
    expect(codes(trap, { sparse: { minBatch: BATCH } })).toEqual(['sparse_activations']);
    expect(codes(mlp, { sparse: { maxFiresPerBatch: 1000, minIsolatedShare: 0 } })).toEqual(['sparse_activations']);
    expect(codes(imprint, { duplicate: { minUnits: 65 } })).toEqual([]);
    expect(codes(imprint, { duplicate: { minFanIn: 785 } })).toEqual([]);
    expect(codes(imprint, { duplicate: { minCosine: 0.9999 } })).toEqual(['duplicate_rows']); // parallel rows (to float rounding)
    expect(codes(mlp, { wide: { unitsPerFeature: 0.1 } })).toEqual(['wide_first_layer']);
    expect(codes(mlp, { wide: { unitsPerFeature: 0.1 } }, 128)).toEqual([]); // not more units than the batch
    // maxSampleExamples: how many of the site's examples are run (the detail counts them).
    const detail = (max: number) => inspectModel(trap, sites[1], { batchSize: BATCH, thresholds: { maxSampleExamples: max } }).findings[0].detail;
    expect(detail(40)).toMatch(/ of 40 examples: trap weights$/);
    expect(detail(256)).toMatch(/ of 256 examples: trap weights$/);
    for (const m of [trap, imprint, mlp]) m.dispose();
  });

  it('binning on a small convolution\'s patches (the thresholding filters adversarial training learns) is not an imprint module; on a kernel covering 1/16 of an example it is', () => {
    const codes = (m: tf.LayersModel, thresholds?: object) => inspectModel(m, sites[1], { batchSize: BATCH, thresholds }).findings.map((f) => f.code);
    const stats = (m: tf.LayersModel) => inspectModel(m, sites[1], { batchSize: BATCH }).findings;
    // A robust CNN's conv1 (3×3, 8 filters, 4 of them one direction at 4 thresholds): 9 of 784 values per row.
    const robustLike = binningConv(aux, { filters: 4, kernel: 3, honestFilters: 4 });
    expect(codes(robustLike)).toEqual([]);
    // The same layer when the site compares rows of any length: flagged (so it is the share that lets it through).
    expect(codes(robustLike, { duplicate: { minShareOfExample: 0 } })).toEqual(['duplicate_rows']);
    // 5×5 (25 of 784, 3.2 %): not compared by default; 7×7 (49 of 784 = 1/16): compared and flagged.
    const five = binningConv(aux, { filters: 16, kernel: 5 });
    const seven = binningConv(aux, { filters: 16, kernel: 7 });
    expect(codes(five)).toEqual([]);
    expect(codes(seven)).toEqual(['duplicate_rows']);
    expect(stats(seven)[0].detail).toMatch(/^16 of 16 units have a weight row/);
    expect(codes(seven, { duplicate: { minShareOfExample: 50 / 784 } })).toEqual([]);
    expect(codes(five, { duplicate: { minShareOfExample: 25 / 784 } })).toEqual(['duplicate_rows']);
    // The Dense imprint module covers the whole example: compared at any share up to 1.
    expect(codes(imprintMlp(aux, { bins: 64 }), { duplicate: { minShareOfExample: 1 } })).toEqual(['duplicate_rows']);
    for (const m of [robustLike, five, seven]) m.dispose();
  });

  it('comparesRows: fan-in at both bounds (minFanIn, minShareOfExample × the example\'s values)', () => {
    const th = ModelInspectionThresholds.parse({});
    const table: Array<[number, number, boolean]> = [
      [7, 8, false], // below minFanIn, even covering the whole example
      [8, 8, true],
      [8, 128, true], // 8 = 128 / 16
      [8, 129, false],
      [49, 784, true],
      [48, 784, false],
      [784, 784, true],
    ];
    for (const [fanIn, features, compared] of table) expect(comparesRows(fanIn, features, th), `${fanIn} of ${features}`).toBe(compared);
    expect(comparesRows(9, 784, ModelInspectionThresholds.parse({ duplicate: { minShareOfExample: 0 } }))).toBe(true);
    expect(comparesRows(9, 784, ModelInspectionThresholds.parse({ duplicate: { minShareOfExample: 0, minFanIn: 10 } }))).toBe(false);
  });

  it('rejects invalid thresholds with a typed zod error', () => {
    for (const bad of [{ duplicate: { minShareOfExample: 1.01 } }, { duplicate: { minShareOfExample: -0.1 } }, { sparse: { minShare: 0 } }, { duplicate: { minCosine: 1.5 } }, { wide: { unitsPerFeature: -1 } }, { maxSampleExamples: 1 }, { extra: 1 }]) {
      expect(() => ModelInspectionThresholds.parse(bad), JSON.stringify(bad)).toThrow();
    }
  });

  it('leaks no tensor and fails closed on a layer it cannot run', () => {
    const trap = trapWeightsMlp(aux, { units: 256, batch: BATCH });
    const before = tf.memory().numTensors;
    inspectModel(trap, sites[0], { batchSize: BATCH });
    expect(tf.memory().numTensors).toBe(before);
    // Data of the wrong width: the layer cannot run; the model is not waved through.
    const wrong = randomDataset([10], 40, 10);
    const { findings } = inspectModel(trap, wrong, { batchSize: BATCH });
    expect(findings.map((f) => f.code)).toEqual(['inspection_failed']);
    expect(findings[0].detail.length).toBeLessThan(400);
    trap.dispose();
  });
});

describe('findingsOf: the exact boundaries', () => {
  const th = ModelInspectionThresholds.parse({});
  const base: FirstLayerStats = { layer: 'l', className: 'Dense', units: 100, fanIn: 784, batch: 32, sampleExamples: 100, liveUnits: 100, sparseUnits: 0, isolatedExamples: 0, duplicateUnits: 0 };
  const table: Array<[string, Partial<FirstLayerStats>, string[]]> = [
    ['nothing', {}, []],
    ['sparse at every boundary', { sparseUnits: 20, isolatedExamples: 50 }, ['sparse_activations']],
    ['share just under 0.2', { sparseUnits: 19, isolatedExamples: 50 }, []],
    ['isolated just under 0.5', { sparseUnits: 20, isolatedExamples: 49 }, []],
    ['fewer than 8 sparse units', { liveUnits: 7, sparseUnits: 7, isolatedExamples: 100 }, []],
    ['exactly 8 sparse units', { liveUnits: 8, sparseUnits: 8, isolatedExamples: 100 }, ['sparse_activations']],
    ['no live units', { liveUnits: 0, sparseUnits: 0, isolatedExamples: 100 }, []],
    ['no gating activation', { liveUnits: undefined, sparseUnits: undefined }, []],
    ['3 duplicate units', { duplicateUnits: 3 }, []],
    ['4 duplicate units', { duplicateUnits: 4 }, ['duplicate_rows']],
    ['duplicates not measured', { duplicateUnits: undefined }, []],
    ['wide: units = batch', { units: 32, fanIn: 4 }, []],
    ['wide: units = 4 × fan-in', { units: 400, fanIn: 100 }, []],
    ['wide: units > both', { units: 401, fanIn: 100 }, ['wide_first_layer']],
    ['wide: units > 4 × fan-in, not > batch', { units: 33, fanIn: 8, batch: 33 }, []],
    ['all three', { sparseUnits: 20, isolatedExamples: 50, duplicateUnits: 4, units: 3200, fanIn: 784, liveUnits: 100 }, ['sparse_activations', 'duplicate_rows', 'wide_first_layer']],
  ];
  it.each(table)('%s', (_name, patch, codes) => {
    expect(findingsOf({ ...base, ...patch }, th).map((f) => f.code)).toEqual(codes);
  });

  it('clips the layer name and states the numbers in the detail', () => {
    const [finding] = findingsOf({ ...base, layer: 'x'.repeat(5000), sparseUnits: 30, isolatedExamples: 60 }, th);
    expect(finding.layer.length).toBeLessThan(120);
    expect(finding.detail).toBe('30 of 100 live units fire for at most 1.5 examples per batch of 32 on average (30%), isolating 60 of 100 examples: trap weights');
  });
});

function randomDataset(shape: number[], n: number, numClasses: number): Dataset {
  const f = shape.reduce((a, b) => a * b, 1);
  let s = 1;
  const x = Float32Array.from({ length: n * f }, () => ((s = (s * 16807) % 2147483647) / 2147483647));
  return { x, y: Int32Array.from({ length: n }, (_, i) => i % numClasses), featureShape: shape, numClasses };
}
