import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError, seeded, setUpWasm } from './helpers.ts';
import { modelCases, type ModelCase } from './models.ts';

beforeAll(setUpWasm);

/** fit() for a few epochs on `backend`, starting from `initial` weights; returns the loss per epoch. */
async function fitLosses(c: ModelCase, backend: string, initial: Array<{ values: Float32Array; shape: number[] }>): Promise<number[]> {
  await tf.setBackend(backend);
  const model = c.build();
  const weights = initial.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(weights);
  tf.dispose(weights);
  const { x, y } = c.data();
  const history = await model.fit(x, y, { epochs: 8, batchSize: 8, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  model.dispose();
  return history.history.loss as number[];
}

describe('models fit() on wasm with the registered kernels', () => {
  for (const c of modelCases) {
    it(`${c.name}: loss decreases and matches the cpu backend epoch by epoch`, async () => {
      await tf.setBackend('cpu');
      const reference = c.build();
      // Seeded kernels (LeCun-uniform): a random initialisation made the "loss decreases" check depend on
      // luck. Vectors (biases, batch-norm γ/β and moving statistics) keep their deterministic initialisers.
      const initial = reference.getWeights().map((w, i) => {
        const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const values = w.shape.length < 2 ? Float32Array.from(w.dataSync()) : Float32Array.from(seeded(w.size, 1000 + i), (v) => v * Math.sqrt(3 / fanIn));
        return { values, shape: w.shape };
      });
      reference.dispose();

      const wasm = await fitLosses(c, 'wasm', initial);
      const cpu = await fitLosses(c, 'cpu', initial);
      expect(wasm.every(Number.isFinite)).toBe(true);
      expect(wasm[wasm.length - 1]!, `losses ${wasm}`).toBeLessThan(wasm[0]! * 0.9);
      expect(relativeError(wasm, cpu), `wasm ${wasm} vs cpu ${cpu}`).toBeLessThan(1e-3);
    });
  }
});
