import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convBiasRelu } from '../../shared/src/wasm-kernels/conv-bias-relu.ts';
import { applyForTraining, fusableConv, fusableDense } from '../../shared/src/wasm-kernels/fused-forward.ts';
import { RELU_GRAD_BIAS_SUM } from '../../shared/src/wasm-kernels/kernels/relu-grad-bias-sum.ts';
import { SINGLE_CHANNEL_CONV } from '../../shared/src/wasm-kernels/kernels/single-channel-conv.ts';
import { reluGradModuleBytes } from '../../shared/src/wasm-kernels/relu-grad-kernels.ts';
import { getArchitecture } from '../../shared/src/model/architectures/registry.ts';
import { onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

const kernelNamesOf = async (f: () => tf.Tensor | tf.Tensor[]): Promise<string[]> => {
  const profile = await tf.profile(() => {
    const out = f();
    return out;
  });
  tf.dispose(profile.result as tf.Tensor | tf.Tensor[]);
  return profile.kernels.map((k) => k.name); // every call, in order (profile.kernelNames is deduplicated)
};

describe('FedtuneReluGradBiasSum (ReLU gradient and bias gradient in one SIMD pass)', () => {
  it('the wasm module validates', () => {
    expect(WebAssembly.validate(reluGradModuleBytes())).toBe(true);
  });

  for (const shape of [[32, 26, 26, 8], [32, 11, 11, 16], [3, 5, 4], [1, 12], [7, 4]]) {
    it(`${JSON.stringify(shape)}: dz equals dy·step(y) exactly, db equals tf.sum(dz) on wasm exactly (the Sum kernel's float32 order) and the cpu backend to 1e-5`, async () => {
      await tf.setBackend('wasm');
      // y after a ReLU: zeros (ties at the kink), positives, and one NaN (no gradient through it: mask false).
      const ys = seeded(size(shape), 1).map((v, i) => (i === 3 ? NaN : Math.max(0, v)));
      const dys = seeded(size(shape), 2);
      const [dz, db] = tf.engine().runKernel(RELU_GRAD_BIAS_SUM, { dy: tf.tensor(dys, shape), y: tf.tensor(ys, shape) }) as tf.Tensor[];
      const expectedDz = Float32Array.from(dys, (d, i) => (ys[i]! > 0 ? d : 0));
      expect(Array.from(dz!.dataSync())).toEqual(Array.from(expectedDz));
      expect(db!.shape).toEqual([shape[shape.length - 1]]);
      const viaSum = tf.tidy(() => tf.sum(tf.tensor(expectedDz, shape), shape.slice(0, -1).map((_, i) => i)).dataSync());
      expect(Array.from(db!.dataSync())).toEqual(Array.from(viaSum));
      const { cpu } = await onCpuAndWasm(() => tf.sum(tf.tensor(expectedDz, shape), shape.slice(0, -1).map((_, i) => i)));
      expect(relativeError(db!.dataSync(), cpu[0]!)).toBeLessThanOrEqual(1e-5);
      tf.dispose([dz!, db!]);
    });
  }

  it('refuses shapes it was not built for with a plain error (the fused op checks before calling it)', async () => {
    await tf.setBackend('wasm');
    const bad = [
      { dy: tf.zeros([2, 6]), y: tf.zeros([2, 6]) }, // 6 channels
      { dy: tf.zeros([2, 8]), y: tf.zeros([4, 4]) }, // shapes differ
      { dy: tf.zeros([2, 8], 'int32'), y: tf.zeros([2, 8], 'int32') },
    ];
    for (const inputs of bad) expect(() => tf.engine().runKernel(RELU_GRAD_BIAS_SUM, inputs)).toThrow(/FedtuneReluGradBiasSum/);
    tf.dispose(bad.flatMap((b) => [b.dy, b.y]));
  });
});

/**
 * Asserts that the loss and every gradient of a step through applyForTraining equal model.apply's to 1e-5, and
 * returns the kernels such a step runs (every call, in order).
 */
async function expectTrainingStepLikeApply(model: tf.LayersModel, input: tf.Tensor): Promise<string[]> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const run = (fused: boolean): Float32Array[] =>
    tf.tidy(() => {
      const f = (): tf.Scalar => tf.sum(tf.square(fused ? applyForTraining(model, input) : (model.apply(input, { training: true }) as tf.Tensor)));
      const { value, grads } = tf.variableGrads(f, vars);
      return [value, ...vars.map((v) => grads[v.name]!)].map((t) => Float32Array.from(t.dataSync()));
    });
  const [ours, stock] = [run(true), run(false)];
  ours.forEach((o, i) => expect(relativeError(o, stock[i]!), `output ${i}`).toBeLessThanOrEqual(1e-5));
  return kernelNamesOf(() => tf.variableGrads(() => tf.sum(applyForTraining(model, input)) as tf.Scalar, vars).value);
}

describe('convBiasRelu: Conv2D + bias + ReLU as one fused op on wasm', () => {
  const cases: Array<{ x: [number, number, number, number]; w: [number, number, number, number]; strides: [number, number]; pad: 'same' | 'valid' }> = [
    { x: [4, 28, 28, 1], w: [3, 3, 1, 8], strides: [1, 1], pad: 'valid' }, // cnn conv1
    { x: [4, 13, 13, 8], w: [3, 3, 8, 16], strides: [1, 1], pad: 'valid' }, // cnn conv2
    { x: [2, 9, 8, 3], w: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
    { x: [2, 7, 9, 2], w: [2, 3, 2, 12], strides: [2, 1], pad: 'valid' },
  ];
  for (const c of cases) {
    it(`x ${JSON.stringify(c.x)} w ${JSON.stringify(c.w)} s${c.strides} ${c.pad}: value and gradients of x, w, b match the unfused ops on cpu`, async () => {
      const xs = seeded(size(c.x), 3);
      const ws = seeded(size(c.w), 4);
      const bs = seeded(c.w[3], 5).map((v) => v * 0.2);
      const weights = seeded(size(tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.w) as tf.Tensor4D, c.strides, c.pad).shape)), 6);
      let fusedRan = false;
      const result = await onCpuAndWasm(() => {
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
          const y = tf.getBackend() === 'wasm' ? convBiasRelu(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, c) : tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), b));
          return tf.sum(tf.mul(y, tf.tensor(weights, y.shape)));
        };
        const args = [tf.tensor4d(xs, c.x), tf.tensor4d(ws, c.w), tf.tensor1d(bs)];
        const { value, grads } = tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Tensor)(args);
        return [value, ...grads];
      });
      for (let i = 0; i < 4; i++) expect(relativeError(result.wasm[i]!, result.cpu[i]!), ['value', 'dx', 'dw', 'db'][i]).toBeLessThanOrEqual(1e-5);
      const names = await kernelNamesOf(() => tf.grads((w: tf.Tensor) => tf.sum(convBiasRelu(tf.tensor4d(xs, c.x), w as tf.Tensor4D, tf.tensor1d(bs), c)))([tf.tensor4d(ws, c.w)]));
      // A one-channel input, 'valid', stride 1 (the first layer of the digit CNNs) runs this module's own forward kernel.
      const forward = c.x[3] === 1 && c.pad === 'valid' && c.strides[0] === 1 && c.strides[1] === 1 ? SINGLE_CHANNEL_CONV : tf.FusedConv2D;
      fusedRan = names.includes(forward) && names.filter((n) => n === tf.FusedConv2D || n === SINGLE_CHANNEL_CONV).length === 1 && names.includes(RELU_GRAD_BIAS_SUM) && !names.includes(tf.Relu) && !names.includes('Step');
      expect(fusedRan, names.join(' ')).toBe(true);
    });
  }

  it('inputGradient false: no input-gradient convolution, the same filter and bias gradients', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seeded(4 * 13 * 13 * 8, 1), [4, 13, 13, 8]);
    const w = tf.tensor4d(seeded(3 * 3 * 8 * 16, 2), [3, 3, 8, 16]);
    const b = tf.tensor1d(seeded(16, 3));
    const grads = (inputGradient: boolean): Float32Array[] =>
      tf.tidy(() => tf.grads((wv: tf.Tensor, bv: tf.Tensor) => tf.sum(tf.square(convBiasRelu(x, wv as tf.Tensor4D, bv as tf.Tensor1D, { strides: [1, 1], pad: 'valid', inputGradient }))))([w, b]).map((g) => Float32Array.from(g.dataSync())));
    const [withDx, without] = [grads(true), grads(false)];
    expect(Array.from(without[0]!)).toEqual(Array.from(withDx[0]!));
    expect(Array.from(without[1]!)).toEqual(Array.from(withDx[1]!));
    const count = async (inputGradient: boolean): Promise<number> =>
      (await kernelNamesOf(() => tf.grads((wv: tf.Tensor) => tf.sum(convBiasRelu(x, wv as tf.Tensor4D, b, { strides: [1, 1], pad: 'valid', inputGradient })))([w]))).filter((n) => n === tf.Conv2DBackpropInput).length;
    expect(await count(true)).toBe(1);
    expect(await count(false)).toBe(0);
    tf.dispose([x, w, b]);
  });

  it('falls back to the unfused ops for output channels that are not a multiple of 4, and on the cpu backend', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seeded(2 * 6 * 6 * 3, 1), [2, 6, 6, 3]);
    const w6 = tf.tensor4d(seeded(3 * 3 * 3 * 6, 2), [3, 3, 3, 6]);
    const b6 = tf.tensor1d(seeded(6, 3));
    const names = await kernelNamesOf(() => convBiasRelu(x, w6, b6, { strides: [1, 1], pad: 'same' }));
    expect(names).toContain(tf.Relu);
    expect(names).not.toContain(tf.FusedConv2D);
    tf.dispose([x, w6, b6]);
    await tf.setBackend('cpu');
    const names2 = await kernelNamesOf(() => convBiasRelu(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 4]) as tf.Tensor4D, tf.ones([4]) as tf.Tensor1D, { strides: [1, 1], pad: 'same' }));
    expect(names2).toContain(tf.Relu);
    await tf.setBackend('wasm');
  });

  it('leaks nothing over repeated gradient steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seeded(2 * 8 * 8 * 4, 1), [2, 8, 8, 4]);
    const w = tf.variable(tf.tensor4d(seeded(3 * 3 * 4 * 8, 2), [3, 3, 4, 8]));
    const b = tf.variable(tf.tensor1d(seeded(8, 3)));
    const step = (): void => {
      tf.tidy(() => {
        tf.variableGrads(() => tf.sum(convBiasRelu(x, w, b, { strides: [1, 1], pad: 'same' })) as tf.Scalar, [w, b]);
      });
    };
    step();
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    tf.dispose([x, w, b]);
  });
});

describe('applyForTraining and fusableConv', () => {
  const conv = (args: Partial<tf.layers.Layer['getConfig']> & Record<string, unknown>): tf.layers.Layer => {
    const layer = tf.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 2], ...args } as never);
    tf.sequential({ layers: [layer] });
    return layer;
  };
  const table: Array<{ label: string; layer: () => tf.layers.Layer; fusable: boolean }> = [
    { label: 'relu, bias, valid', layer: () => conv({ activation: 'relu' }), fusable: true },
    { label: 'relu, same, stride 2', layer: () => conv({ activation: 'relu', padding: 'same', strides: 2 }), fusable: true },
    { label: 'linear activation', layer: () => conv({}), fusable: false },
    { label: 'tanh activation', layer: () => conv({ activation: 'tanh' }), fusable: false },
    { label: 'no bias', layer: () => conv({ activation: 'relu', useBias: false }), fusable: false },
    { label: 'dilation 2', layer: () => conv({ activation: 'relu', dilationRate: 2 }), fusable: false },
    { label: 'a dense layer', layer: () => tf.layers.dense({ units: 4, activation: 'relu', inputShape: [3] }), fusable: false },
  ];
  for (const c of table) {
    it(`fusableConv: ${c.label} → ${c.fusable}`, () => {
      expect(fusableConv(c.layer()) !== undefined).toBe(c.fusable);
    });
  }

  it('the built-in cnn: fused kernels in the step, logits and gradients equal to model.apply to 1e-5', async () => {
    await tf.setBackend('wasm');
    const model = getArchitecture('cnn').build({ inputShape: [784], numClasses: 10, seed: 1 });
    const input = tf.tensor2d(seeded(8 * 784, 9).map((v) => (v + 1) / 2), [8, 784]);
    const names = await expectTrainingStepLikeApply(model, input);
    expect(names.filter((n) => n === SINGLE_CHANNEL_CONV).length).toBe(1); // conv1: one input channel
    expect(names.filter((n) => n === tf.FusedConv2D).length).toBe(1);
    expect(names.filter((n) => n === RELU_GRAD_BIAS_SUM).length).toBe(2);
    expect(names.filter((n) => n === tf.Conv2DBackpropInput).length).toBe(1); // conv1's input needs no gradient
    tf.dispose(input);
    model.dispose();
  });

  it('the MLP: its 128-unit ReLU layer runs the swapped dense op; logits and gradients equal to model.apply to 1e-5', async () => {
    await tf.setBackend('wasm');
    const model = getArchitecture('mlp').build({ inputShape: [784], numClasses: 10, seed: 1 });
    const input = tf.tensor2d(seeded(32 * 784, 19).map((v) => (v + 1) / 2), [32, 784]);
    const names = await expectTrainingStepLikeApply(model, input);
    // The swapped product (Wᵀ·xᵀ)ᵀ: transposes around one untransposed BatchMatMul; ReLU and bias gradient in one pass.
    expect(names.filter((n) => n === RELU_GRAD_BIAS_SUM).length).toBe(1);
    expect(names).not.toContain('Step'); // ReLU's stock backward
    expect(names.filter((n) => n === tf.Transpose).length).toBeGreaterThanOrEqual(3);
    tf.dispose(input);
    model.dispose();
  });

  it('a Dense layer with fewer than twice as many units as batch rows runs as the model applies it', async () => {
    await tf.setBackend('wasm');
    const model = getArchitecture('mlp').build({ inputShape: [784], numClasses: 10, seed: 1 });
    const input = tf.tensor2d(seeded(80 * 784, 20).map((v) => (v + 1) / 2), [80, 784]); // 128 units < 2 × 80 rows
    const a = tf.tidy(() => Float32Array.from(applyForTraining(model, input).dataSync()));
    const b = tf.tidy(() => Float32Array.from((model.apply(input, { training: true }) as tf.Tensor).dataSync()));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(fusableDense(model.layers[0]!, 64)).toEqual({ relu: true });
    expect(fusableDense(model.layers[0]!, 65)).toBeUndefined();
    tf.dispose(input);
    model.dispose();
  });
});
