import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { firstLayerStats, inspectModel, ModelInspectionThresholds, SeededRandom, splitDataset, subset, type Dataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { heapDenseFires, inspectionHeap } from '../../shared/src/policy/inspection-heap-products.ts';
import { rowBlockGemmModuleBytes } from '../../shared/src/wasm-kernels/row-block-gemm-kernels.ts';
import { columnSquareSumsModuleBytes } from '../../shared/src/wasm-kernels/column-square-sums-kernels.ts';
import { baselineFirstLayerStats, baselineInspectModel } from '../../bench/baselines/inspect-model-baseline.ts';
import { binningConv, glorotMlp, imprintMlp, trapWeightsConv, trapWeightsMlp } from './trap-models.ts';

/**
 * The inspection's heap path (inspection-heap-products.ts) against the implementation it replaced, kept as the
 * oracle (bench/baselines/inspect-model-baseline.ts): every stat firstLayerStats measures and every finding
 * inspectModel returns, on the built-in models, honest and trap models and deliberately bad ones, on several
 * sites and batch sizes, must be the same.
 */

let aux: Dataset;
let sites: Dataset[];

beforeAll(async () => {
  const backend = await selectNodeBackend();
  expect(backend.choice).toBe('wasm'); // the heap path is what this file tests
  aux = builtinDigits().holdout;
  sites = builtinDigitsSites({ sites: 3, partition: { kind: 'dirichlet', alpha: 1 }, seed: 7 }).map((d, k) => splitDataset(d, k + 1).train);
});

/** A Dense first layer of `units` units with a seeded random kernel, optionally without a bias. */
function denseModel(units: number, options: { useBias?: boolean; seed?: number; inputShape?: number[]; activation?: 'relu' | 'tanh' } = {}): tf.LayersModel {
  const inputShape = options.inputShape ?? [784];
  const layers: tf.layers.Layer[] = [];
  if (inputShape.length > 1) layers.push(tf.layers.flatten({ inputShape }));
  layers.push(tf.layers.dense({ units, activation: options.activation ?? 'relu', useBias: options.useBias ?? true, kernelInitializer: tf.initializers.glorotNormal({ seed: options.seed ?? 1 }), biasInitializer: tf.initializers.randomNormal({ mean: -0.05, stddev: 0.05, seed: 2 }), ...(inputShape.length > 1 ? {} : { inputShape }) }));
  layers.push(tf.layers.dense({ units: 10 }));
  return tf.sequential({ layers });
}

/** A deliberately bad model: trap units (each fires for about one example) beside an imprint module (one direction at many thresholds) in one layer. */
function badModel(): tf.LayersModel {
  const [trapUnits, bins] = [400, 64];
  const trap = trapWeightsMlp(aux, { units: trapUnits, batch: 32, seed: 9 });
  const imprint = imprintMlp(aux, { bins });
  const [tk, tb] = trap.layers[0].getWeights().map((w) => w.dataSync());
  const [ik, ib] = imprint.layers[0].getWeights().map((w) => w.dataSync());
  const units = trapUnits + bins;
  const k = new Float32Array(784 * units);
  for (let i = 0; i < 784; i++) {
    for (let u = 0; u < trapUnits; u++) k[i * units + u] = tk[i * trapUnits + u];
    for (let u = 0; u < bins; u++) k[i * units + trapUnits + u] = ik[i * bins + u];
  }
  const b = Float32Array.from({ length: units }, (_, u) => (u < trapUnits ? tb[u] : ib[u - trapUnits]));
  trap.dispose();
  imprint.dispose();
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
  model.layers[0].setWeights([tf.tensor2d(k, [784, units]), tf.tensor1d(b)]);
  return model;
}

const images = (ds: Dataset): Dataset => ({ ...ds, featureShape: [28, 28, 1] });

describe('model inspection measures what the implementation it replaced measured (bench/baselines/inspect-model-baseline.ts)', () => {
  const models: Array<[string, () => tf.LayersModel | Promise<tf.LayersModel>, (d: Dataset) => Dataset]> = [
    ['the built-in mlp', () => loadModelDir(pretrainedModelDir('mlp')), (d) => d],
    ['the built-in cnn', () => loadModelDir(pretrainedModelDir('cnn')), (d) => d],
    ['the built-in cnn-bn', () => loadModelDir(pretrainedModelDir('cnn-bn')), (d) => d],
    ['a Glorot 784-256', () => glorotMlp(784, 256, 10, 11), (d) => d],
    ['a trap-weights MLP, 512 units', () => trapWeightsMlp(aux, { units: 512, batch: 32 }), (d) => d],
    ['an imprint MLP, 64 bins', () => imprintMlp(aux, { bins: 64 }), (d) => d],
    ['a trap-weights conv', () => trapWeightsConv(aux, { filters: 64, batch: 32 }), (d) => d],
    ['a 7×7 binning conv', () => binningConv(aux, { filters: 16, kernel: 7 }), (d) => d],
    ['a bad model: trap and imprint units in one layer', badModel, (d) => d],
    ['100 units (not a multiple of 16)', () => denseModel(100), (d) => d],
    ['37 units without a bias', () => denseModel(37, { useBias: false, seed: 4 }), (d) => d],
    ['a Dense behind a Flatten of images', () => denseModel(64, { inputShape: [28, 28, 1], seed: 5 }), images],
    ['a tanh Dense layer', () => denseModel(48, { activation: 'tanh', seed: 6 }), (d) => d],
    ['a Conv2D behind a Reshape of a tanh (fed through the model)', () => tf.sequential({ layers: [tf.layers.activation({ activation: 'tanh', inputShape: [784] }), tf.layers.reshape({ targetShape: [28, 28, 1] }), tf.layers.conv2d({ filters: 8, kernelSize: 7, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 8 }) }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] }), (d) => d],
    ['a Dense on rank-3 input (28 positions of 28 values)', () => denseModel(32, { inputShape: [28, 28], seed: 7 }), (d) => ({ ...d, featureShape: [28, 28] })],
  ];
  it.each(models)('%s: the same stats and findings on every site, batch and sample size', async (name, build, shape) => {
    const model = await build();
    const lenient = ModelInspectionThresholds.parse({ duplicate: { minShareOfExample: 0 }, sparse: { minBatch: 2 } });
    for (const [k, site] of sites.entries()) {
      const data = shape(site);
      // The full sample (256), an odd one (a padded row) and one under the batch.
      for (const examples of [data.y.length, 255, 21]) {
        const sample = subset(data, Array.from({ length: Math.min(examples, data.y.length) }, (_, i) => i));
        for (const batchSize of [8, 32, 64]) {
          const at = `${name}, site ${k}, ${sample.y.length} examples, batch ${batchSize}`;
          for (const thresholds of [ModelInspectionThresholds.parse({}), lenient]) {
            expect(firstLayerStats(model, sample, batchSize, thresholds), at).toEqual(baselineFirstLayerStats(model, sample, batchSize, thresholds));
          }
          expect(inspectModel(model, sample, { batchSize }), at).toEqual(baselineInspectModel(model, sample, { batchSize }));
        }
      }
    }
    model.dispose();
  });

  it('the verdicts: the built-in models pass, the bad model is refused for both constructions', async () => {
    for (const arch of ['mlp', 'cnn']) {
      const model = await loadModelDir(pretrainedModelDir(arch));
      expect(inspectModel(model, sites[0], { batchSize: 32 }).findings, arch).toEqual([]);
      model.dispose();
    }
    const bad = badModel();
    const { findings } = inspectModel(bad, sites[0], { batchSize: 32 });
    expect(findings.map((f) => f.code)).toEqual(['sparse_activations', 'duplicate_rows']);
    expect(findings).toEqual(baselineInspectModel(bad, sites[0], { batchSize: 32 }).findings);
    bad.dispose();
  });

  it('fails closed as before on data of the wrong width', () => {
    const model = denseModel(64);
    const wrong: Dataset = { x: new Float32Array(40 * 10), y: new Int32Array(40), featureShape: [10], numClasses: 10 };
    const { findings } = inspectModel(model, wrong, { batchSize: 32 });
    expect(findings.map((f) => f.code)).toEqual(['inspection_failed']);
    expect(findings).toEqual(baselineInspectModel(model, wrong, { batchSize: 32 }).findings);
    model.dispose();
  });
});

describe('the heap path\'s first-layer product (inspection-heap-products.ts)', () => {
  it.each([
    ['the built-in mlp', () => loadModelDir(pretrainedModelDir('mlp'))],
    ['100 units', async () => denseModel(100)],
    ['17 units without a bias', async () => denseModel(17, { useBias: false })],
  ])('%s: the units fired are tfjs\'s x · W + b > 0, example by example', async (_, build) => {
    const model = await build();
    const [kernel, bias] = model.layers.find((l) => l.getClassName() === 'Dense')!.getWeights();
    for (const n of [256, 255, 1]) {
      const x = sites[1].x.subarray(0, n * 784);
      const expected = tf.tidy(() => {
        const z = tf.matMul(tf.tensor2d(x, [n, 784]), kernel as tf.Tensor2D);
        return (bias ? z.add(bias) : z).greater(0);
      });
      expect(Array.from(heapDenseFires(inspectionHeap()!, kernel, bias, x, n)), `${n} examples`).toEqual(Array.from(expected.dataSync()));
      expected.dispose();
    }
    model.dispose();
  });

  it('the row-blocked product equals tfjs\'s to the bit (the small-matrix kernel below 2^20 multiply-adds, XNNPACK above), its module validates', () => {
    expect(WebAssembly.validate(rowBlockGemmModuleBytes())).toBe(true);
    const heap = inspectionHeap()!;
    const rng = new SeededRandom(3);
    for (const [m, k, n] of [[2, 1, 16], [8, 784, 128], [64, 33, 48], [256, 784, 128]]) {
      const a = tf.tensor2d(Float32Array.from({ length: m * k }, () => rng.normal()), [m, k]);
      const b = tf.tensor2d(Float32Array.from({ length: k * n }, () => rng.normal()), [k, n]);
      const expected = tf.tidy(() => tf.matMul(a, b).dataSync());
      const c = heap.backend.makeOutput([m * n], 'float32');
      heap.rows.gemm(heap.backend.typedArrayFromHeap(a).byteOffset, 4 * k, heap.backend.typedArrayFromHeap(b).byteOffset, heap.backend.typedArrayFromHeap(c).byteOffset, m, k, n);
      expect(Array.from(heap.backend.typedArrayFromHeap(c)), `${m}×${k}×${n}`).toEqual(Array.from(expected));
      (tf.backend() as tf.KernelBackend).disposeData(c.dataId);
      tf.dispose([a, b]);
    }
  });

  it('the column sums of squares equal the JavaScript loop\'s float64 sums to the bit, its module validates', () => {
    expect(WebAssembly.validate(columnSquareSumsModuleBytes())).toBe(true);
    const heap = inspectionHeap()!;
    const rng = new SeededRandom(4);
    for (const [rows, cols] of [[784, 128], [9, 7], [5, 3], [49, 1000]]) {
      const k = tf.tensor2d(Float32Array.from({ length: rows * cols }, (_, i) => (i % 11 === 0 ? 1e-30 : rng.normal() * 10)), [rows, cols]);
      const out = heap.backend.makeOutput([2 * cols + 2], 'float32'); // float64 values, from an 8-byte aligned offset
      const at = heap.backend.typedArrayFromHeap(out).byteOffset;
      const start = at + (at % 8);
      new Float64Array(heap.memory.buffer, start, cols).fill(0);
      heap.squares.sumsq(heap.backend.typedArrayFromHeap(k).byteOffset, start, rows, cols);
      const values = k.dataSync();
      const expected = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let u = 0; u < cols; u++) expected[u] += values[i * cols + u] * values[i * cols + u];
      expect(Array.from(new Float64Array(heap.memory.buffer, start, cols)), `${rows}×${cols}`).toEqual(Array.from(expected));
      (tf.backend() as tf.KernelBackend).disposeData(out.dataId);
      k.dispose();
    }
  });

  it('leaves no tensor and no heap buffer behind, inspection after inspection', async () => {
    const models = [await loadModelDir(pretrainedModelDir('mlp')), await loadModelDir(pretrainedModelDir('cnn')), imprintMlp(aux, { bins: 64 }), denseModel(100)];
    for (const m of models) inspectModel(m, sites[0], { batchSize: 32 }); // what is kept between inspections is made now
    const before = tf.memory();
    for (let r = 0; r < 5; r++) for (const m of models) inspectModel(m, sites[r % sites.length], { batchSize: 32 });
    const after = tf.memory();
    expect([after.numTensors, after.numDataBuffers, after.numBytes]).toEqual([before.numTensors, before.numDataBuffers, before.numBytes]);
    for (const m of models) m.dispose();
  });
});
