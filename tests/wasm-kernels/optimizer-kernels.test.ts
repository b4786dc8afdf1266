import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFusedOptimizer } from '../../shared/src/learning/fused-optimizer.ts';
import { adamStepConstants, adamUpdate, momentumUpdate, sgdUpdate } from '../../shared/src/learning/optimizer-updates.ts';
import { optimizerKernels, wasmBackendMemory } from '../../shared/src/wasm-kernels/optimizer-kernels.ts';
import { seeded, setUpWasm } from './helpers.ts';

beforeAll(setUpWasm);

type Kind = 'sgd' | 'momentum' | 'adam';
const stock = (kind: Kind, lr: number): tf.Optimizer => (kind === 'sgd' ? tf.train.sgd(lr) : kind === 'momentum' ? tf.train.momentum(lr, 0.9) : tf.train.adam(lr));

/** `steps` updates of one variable of `size` values by the fused optimizer and by tf.train on the same backend. */
function run(kind: Kind, size: number, steps: number): { fused: Float32Array; reference: Float32Array } {
  const init = seeded(size, size);
  const a = tf.variable(tf.tensor1d(init));
  const b = tf.variable(tf.tensor1d(init));
  const fused = createFusedOptimizer({ optimizer: kind, learningRate: 0.01 }, [a]);
  const reference = stock(kind, 0.01);
  for (let s = 0; s < steps; s++) {
    // Gradients spanning magnitudes, with exact zeros (Adam's ε matters there).
    const g = tf.tensor1d(Float32Array.from(seeded(size, 100 + s), (v, i) => (i % 7 === 6 ? 0 : v * 10 ** ((i % 5) - 3))));
    fused.applyTensors([g]);
    reference.applyGradients({ [b.name]: g });
    g.dispose();
  }
  const out = { fused: Float32Array.from(a.dataSync()), reference: Float32Array.from(b.dataSync()) };
  fused.dispose();
  reference.dispose();
  tf.dispose([a, b]);
  return out;
}

describe('fused optimizer kernels (wasm SIMD on the heap)', () => {
  it('compile against the wasm backend memory', () => {
    const memory = wasmBackendMemory(tf.backend());
    expect(memory).toBeInstanceOf(WebAssembly.Memory);
    expect(optimizerKernels(memory!)).toBeDefined();
    expect(wasmBackendMemory({})).toBeUndefined();
  });

  // Sizes around the SIMD width: the kernel takes multiples of 4, the scalar loop the rest.
  for (const kind of ['sgd', 'momentum', 'adam'] as const) {
    for (const size of [1, 3, 4, 5, 8, 17, 1003]) {
      it(`${kind}, ${size} values, 5 steps: bit for bit tf.train's update`, () => {
        const { fused, reference } = run(kind, size, 5);
        expect(Array.from(fused)).toEqual(Array.from(reference));
        expect(Array.from(fused)).not.toEqual(Array.from(seeded(size, size))); // it moved
      });
    }
  }

  it('the scalar loops (runtimes without SIMD) equal tf.train on the cpu backend bit for bit', async () => {
    await tf.setBackend('cpu');
    try {
      const n = 37;
      const w0 = seeded(n, 1);
      const grads = [seeded(n, 2), seeded(n, 3), seeded(n, 4)];
      for (const kind of ['sgd', 'momentum', 'adam'] as const) {
        const w = Float32Array.from(w0);
        const m = new Float32Array(n);
        const v = new Float32Array(n);
        let acc1 = Math.fround(0.9);
        let acc2 = Math.fround(0.999);
        const variable = tf.variable(tf.tensor1d(w0));
        const opt = stock(kind, 0.05);
        for (const g of grads) {
          if (kind === 'sgd') sgdUpdate(w, w, g, -0.05);
          else if (kind === 'momentum') momentumUpdate(w, w, g, m, -0.05, 0.9);
          else {
            const c = adamStepConstants(0.05, 0.9, 0.999, tf.backend().epsilon(), acc1, acc2);
            adamUpdate(w, w, g, m, v, c);
            acc1 = Math.fround(acc1 * c.beta1);
            acc2 = Math.fround(acc2 * c.beta2);
          }
          const gt = tf.tensor1d(g);
          opt.applyGradients({ [variable.name]: gt });
          gt.dispose();
        }
        expect(Array.from(w), kind).toEqual(Array.from(variable.dataSync()));
        opt.dispose();
        variable.dispose();
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('learning rate, optimizer kind and step count each change the result', () => {
    const base = run('adam', 9, 3).fused;
    expect(Array.from(run('sgd', 9, 3).fused)).not.toEqual(Array.from(base));
    expect(Array.from(run('momentum', 9, 3).fused)).not.toEqual(Array.from(run('sgd', 9, 3).fused));
    expect(Array.from(run('adam', 9, 4).fused)).not.toEqual(Array.from(base));
  });

  it('keeps its moments as heap tensors and releases them on dispose', () => {
    const v = tf.variable(tf.zeros([10]));
    const start = tf.memory().numTensors;
    const adam = createFusedOptimizer({ optimizer: 'adam', learningRate: 0.1 }, [v]);
    expect(tf.memory().numTensors).toBe(start + 2);
    const g = tf.ones([10]);
    for (let i = 0; i < 3; i++) adam.applyTensors([g]);
    adam.applyArrays([new Float32Array(10).fill(1)]);
    expect(tf.memory().numTensors).toBe(start + 3); // + g
    adam.dispose();
    g.dispose();
    expect(tf.memory().numTensors).toBe(start);
    v.dispose();
  });
});
