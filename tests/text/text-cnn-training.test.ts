import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateModel, FedtuneError, fitLocal, getArchitecture, readModelWeights } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

/** Token-id data where class 1 contains token 7 somewhere and class 0 never does (ids up to 4,999: exact in float32). */
function idData(n: number, seqLen: number, seed: number) {
  const x = new Float32Array(n * seqLen);
  const y = new Int32Array(n);
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) % 4990) + 10;
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let t = 0; t < seqLen; t++) x[i * seqLen + t] = t < seqLen - 4 ? next() : 0;
    if (y[i]) x[i * seqLen + (i % (seqLen - 4))] = 7;
  }
  return { x, y, featureShape: [seqLen], numClasses: 2 };
}

describe('text-cnn trains on token ids through the site loop (wasm)', () => {
  beforeAll(async () => {
    await selectNodeBackend('wasm');
  });

  it('the fast loop and the custom loop both learn; float32 ids reach the embedding exactly; no tensor leaks', async () => {
    const train = idData(128, 24, 1);
    const test = idData(64, 24, 2);
    for (const extra of [{}, { weightDecay: 1e-4 }]) {
      const model = getArchitecture('text-cnn').build({ inputShape: [24], numClasses: 2, seed: 3, vocabularySize: 5000 });
      try {
        const before = tf.memory().numTensors;
        const start = evaluateModel(model, test).accuracy;
        await fitLocal(model, train, { epochs: 8, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 1, ...extra });
        expect(tf.memory().numTensors).toBe(before);
        expect(start).toBeLessThan(0.7);
        expect(evaluateModel(model, test).accuracy).toBeGreaterThan(0.95);
        // Only the rows of ids that occur were trained: id 5 (never in the data) keeps its initial embedding.
        const fresh = getArchitecture('text-cnn').build({ inputShape: [24], numClasses: 2, seed: 3, vocabularySize: 5000 });
        const row = (m: tf.LayersModel, id: number) => readModelWeights(m).arrays[0]!.slice(id * 32, (id + 1) * 32);
        if (!('weightDecay' in extra)) expect(row(model, 5)).toEqual(row(fresh, 5));
        expect(row(model, 7)).not.toEqual(row(fresh, 7));
        fresh.dispose();
      } finally {
        model.dispose();
      }
    }
  });

  it('has embedding → conv1d → global max-pool → dense logits; dropout only when asked', () => {
    const m = getArchitecture('text-cnn').build({ inputShape: [16], numClasses: 3, seed: 1, vocabularySize: 100 });
    expect(m.layers.map((l) => l.getClassName())).toEqual(['Embedding', 'Conv1D', 'GlobalMaxPooling1D', 'Dense']);
    expect(m.outputs[0]!.shape).toEqual([null, 3]);
    expect(m.countParams()).toBe(100 * 32 + (3 * 32 * 64 + 64) + (64 * 3 + 3));
    m.dispose();
    const d = getArchitecture('text-cnn').build({ inputShape: [16], numClasses: 3, seed: 1, vocabularySize: 100, dropout: 0.3 });
    expect(d.layers.map((l) => l.getClassName())).toContain('Dropout');
    d.dispose();
  });

  it.each<[string, object]>([
    ['no vocabulary size', { inputShape: [16] }],
    ['a vocabulary of 1', { inputShape: [16], vocabularySize: 1 }],
    ['an image input', { inputShape: [28, 28, 1], vocabularySize: 100 }],
    ['a sequence shorter than the filter', { inputShape: [2], vocabularySize: 100 }],
  ])('refuses %s with a config error', (_, options) => {
    expect(() => getArchitecture('text-cnn').build({ numClasses: 2, seed: 1, ...options } as never)).toThrow(FedtuneError);
  });
});
