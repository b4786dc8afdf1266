import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, expect, it, vi } from 'vitest';
import { setUpWasm } from '../wasm-kernels/helpers.ts';

// On the wasm backend without wasm SIMD (the project's small-GEMM module does not compile), the Dense-stack step
// is not offered and training keeps the tape — rather than a step without its kernels. A fresh import of the
// step's modules, so their kernels are compiled again under a WebAssembly whose compiler fails.
beforeAll(setUpWasm);

afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

it('the wasm backend without the SIMD kernels: no Dense-stack step (the tape trains)', async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
  const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  try {
    vi.resetModules();
    const withSimd = await import('../../shared/src/learning/dense-stack-step.ts');
    const step = withSimd.denseStackStep(model, variables);
    expect(step).toBeDefined();
    step!.dispose?.();

    const real = globalThis.WebAssembly;
    vi.stubGlobal('WebAssembly', {
      ...real,
      Memory: real.Memory,
      Instance: real.Instance,
      Module: class {
        constructor() {
          throw new real.CompileError('SIMD is not supported');
        }
      },
    });
    vi.resetModules();
    const withoutSimd = await import('../../shared/src/learning/dense-stack-step.ts');
    expect(tf.getBackend()).toBe('wasm');
    expect(withoutSimd.denseStackStep(model, variables)).toBeUndefined();
  } finally {
    model.dispose();
  }
});
