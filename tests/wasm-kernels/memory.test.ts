import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { wasmTrainingKernelConfigs } from '../../shared/src/wasm-kernels/index.ts';
import { seeded, setUpWasm } from './helpers.ts';
import { modelCases } from './models.ts';

beforeAll(setUpWasm);

const numDataIds = (): number => tf.backend().numDataIds();

describe('the wasm training kernels leak no tensors', () => {
  for (const c of modelCases) {
    it(`${c.name}: training steps leave tf.memory().numTensors and the wasm heap's data ids unchanged`, async () => {
      await tf.setBackend('wasm');
      const model = c.build();
      const { x, y } = c.data();
      await model.trainOnBatch(x, y); // creates the optimizer's slots
      const tensors = tf.memory().numTensors;
      const dataIds = numDataIds();
      for (let i = 0; i < 4; i++) await model.trainOnBatch(x, y);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(numDataIds()).toBe(dataIds);
      model.dispose();
      tf.dispose([x, y]);
    });
  }

  it('each kernel, called directly, adds exactly its outputs', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seeded(2 * 6 * 6 * 3, 91), [2, 6, 6, 3]);
    const w = tf.tensor4d(seeded(3 * 3 * 3 * 2, 92), [3, 3, 3, 2]);
    const dw = tf.tensor4d(seeded(3 * 3 * 3 * 2, 93), [3, 3, 3, 2]);
    const dy = tf.tensor4d(seeded(2 * 3 * 3 * 2, 94), [2, 3, 3, 2]);
    const dyDepthwise = tf.tensor4d(seeded(2 * 3 * 3 * 6, 95), [2, 3, 3, 6]);
    const ids = tf.tensor1d([0, 1, 1, 0, 2, 5], 'int32');
    const rows = tf.tensor2d(seeded(12, 96), [6, 2]);
    const m = tf.tensor2d(seeded(12, 97), [3, 4]);
    const conv = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
    const depthwise = { strides: 2, pad: 'same', dilations: 1 };
    const calls: Record<string, [tf.NamedTensorMap, tf.NamedAttrMap]> = {
      Conv2DBackpropFilter: [{ x, dy }, { ...conv, filterShape: [3, 3, 3, 2] }],
      Conv2DBackpropInput: [{ dy, filter: w }, { ...conv, inputShape: [2, 6, 6, 3] }],
      DepthwiseConv2dNativeBackpropFilter: [{ x, dy: dyDepthwise }, { ...depthwise, filterShape: [3, 3, 3, 2] }],
      DepthwiseConv2dNativeBackpropInput: [{ dy: dyDepthwise, filter: dw }, { ...depthwise, inputShape: [2, 6, 6, 3] }],
      UnsortedSegmentSum: [{ x: rows, segmentIds: ids }, { numSegments: 4 }],
      MaxPoolGrad: [{ dy: tf.ones([2, 3, 3, 3]), input: x, output: tf.ones([2, 3, 3, 3]) }, { filterSize: 2, strides: 2, pad: 'valid' }],
      BatchMatMul: [{ a: m, b: m }, { transposeA: true, transposeB: false }],
      Tile: [{ x: m }, { reps: [2, 3] }],
      Sum: [{ x: m }, { axis: [0], keepDims: false }],
      Add: [{ a: m, b: tf.ones([4]) }, {}],
      FedtuneReluGradBiasSum: [{ dy: m, y: m }, {}], // two outputs: dz and db
      FedtuneSignedStep: [{ x: m, g: m, lo: m, hi: m }, { step: 0.1 }],
      FedtuneSingleChannelConv: [{ x: tf.tensor4d(seeded(2 * 6 * 6, 98), [2, 6, 6, 1]), filter: tf.tensor4d(seeded(3 * 3 * 4, 99), [3, 3, 1, 4]), bias: tf.ones([4]) }, { relu: true }],
      // One input channel: this module's path (a zero bias made and freed inside).
      Conv2D: [{ x: tf.tensor4d(seeded(2 * 6 * 6, 98), [2, 6, 6, 1]), filter: tf.tensor4d(seeded(3 * 3 * 4, 99), [3, 3, 1, 4]) }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 }],
      // A second reference to its input's data: a new tensor, no new buffer.
      Identity: [{ x: m }, {}],
      // A small product with a bias and ReLU: this module's kernel (no scratch left behind).
      _FusedMatMul: [{ a: m, b: tf.tensor2d(seeded(8, 100), [4, 2]), bias: tf.ones([2]) }, { transposeA: false, transposeB: false, activation: 'relu' }],
    };
    const buffers = (name: string): number => (name === 'Identity' ? 0 : outputs(name));
    const outputs = (name: string): number => (name === 'FedtuneReluGradBiasSum' ? 2 : 1);
    expect(Object.keys(calls).sort()).toEqual(wasmTrainingKernelConfigs.map((k) => k.kernelName).sort());
    for (const [name, [inputs, attrs]] of Object.entries(calls)) {
      const tensors = tf.memory().numTensors;
      const dataIds = numDataIds();
      const out = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
      expect(tf.memory().numTensors, name).toBe(tensors + outputs(name));
      expect(numDataIds(), name).toBe(dataIds + buffers(name));
      tf.dispose(out);
      expect(tf.memory().numTensors, name).toBe(tensors);
      expect(numDataIds(), name).toBe(dataIds);
    }
  });
});
