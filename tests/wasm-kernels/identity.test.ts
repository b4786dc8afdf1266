import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainStep } from '../../shared/src/learning/train-step.ts';
import { readModelWeights } from '../../shared/src/model/model-weights.ts';
import { getArchitecture } from '../../shared/src/model/architectures/registry.ts';
import { seeded, setUpWasm } from './helpers.ts';

beforeAll(setUpWasm);

/** The wasm backend's bookkeeping: how many buffers it holds and how many references one has. */
const wasmBackend = () => tf.engine().backend as unknown as { numDataIds(): number; refCount(dataId: object): number };

describe('Identity on wasm (a second reference, not a copy)', () => {
  it('tf.clone shares the data of its input, and the data lives until its last reference is disposed', () => {
    const before = wasmBackend().numDataIds();
    const x = tf.tensor(seeded(12, 1), [3, 4]);
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    expect(wasmBackend().numDataIds()).toBe(before + 1);
    expect(wasmBackend().refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(Array.from(seeded(12, 1)));
    y.dispose();
    expect(wasmBackend().numDataIds()).toBe(before);
  });

  it('keeps the shape and dtype of int32 and bool tensors, and copies strings as tfjs does', () => {
    const i = tf.tensor([1, 2, 3], [3], 'int32');
    const b = tf.tensor([1, 0], [2], 'bool');
    const s = tf.tensor(['a', 'bc']);
    const [ci, cb, cs] = [i, b, s].map((t) => tf.clone(t));
    expect([ci!.dtype, cb!.dtype, cs!.dtype]).toEqual(['int32', 'bool', 'string']);
    expect(ci!.dataId).toBe(i.dataId);
    expect(Array.from(cb!.dataSync())).toEqual([1, 0]);
    expect(cs!.dataSync()).toEqual(['a', 'bc']);
    tf.dispose([i, b, s, ci!, cb!, cs!]);
  });

  it('a gradient saves its tensors without copying them, and a training step frees every one of them', () => {
    const model = getArchitecture('cnn').build({ inputShape: [784], numClasses: 10, seed: 3 });
    const step = createTrainStep(model, { optimizer: 'adam', learningRate: 0.01 });
    const xs = seeded(8 * 784, 4).map((v) => (v + 1) / 2);
    const ys = Int32Array.from({ length: 8 }, (_, k) => k % 10);
    step.step(xs, ys, 8);
    const tensors = tf.memory().numTensors;
    const buffers = wasmBackend().numDataIds();
    const copies: number[] = [];
    let calls = 0;
    const stock = tf.getKernel(tf.Identity, 'wasm')!;
    // Count Identity calls that produced a new buffer during one step.
    tf.unregisterKernel(tf.Identity, 'wasm');
    tf.registerKernel({ ...stock, kernelFunc: (args) => { calls++; const out = stock.kernelFunc(args) as tf.TensorInfo; if (out.dataId !== (args.inputs as { x: tf.TensorInfo }).x.dataId) copies.push(1); return out; } });
    try {
      step.step(xs, ys, 8);
    } finally {
      tf.unregisterKernel(tf.Identity, 'wasm');
      tf.registerKernel(stock);
    }
    expect(calls).toBeGreaterThan(5);
    expect(copies).toHaveLength(0);
    for (let k = 0; k < 3; k++) step.step(xs, ys, 8);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(wasmBackend().numDataIds()).toBe(buffers);
    expect(readModelWeights(model).arrays.every((a) => a.every(Number.isFinite))).toBe(true);
    step.dispose();
    model.dispose();
  });
});
