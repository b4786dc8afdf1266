import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { checkEvaluateInstruction, checkFitInstruction, ModelInspectionGate, nobleSha256OfChunks, SeededRandom, sha256Hex, type FitInstruction } from '@fedtune/shared';
import { nodeSha256OfChunks, selectNodeBackend } from '@fedtune/shared/node';
import { policy, terms } from '../policy/terms-fixture.ts';

/** Random chunks, some of them views at odd offsets into a larger buffer. */
function chunks(rng: SeededRandom, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => {
    const len = rng.int(2_000);
    const buffer = new Uint8Array(len + 7).map(() => rng.int(256));
    const offset = rng.int(8);
    return buffer.subarray(offset, offset + Math.min(len, buffer.length - offset));
  });
}

describe('Node sites hash model bytes with Node\'s crypto (nodeSha256OfChunks): the digests of @noble/hashes', () => {
  it('the same hex digest for any chunks (empty, one, several, unaligned views), and the one of sha256Hex of their concatenation', () => {
    const rng = new SeededRandom(11);
    expect(nodeSha256OfChunks([])).toBe(nobleSha256OfChunks([]));
    expect(nodeSha256OfChunks([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let k = 0; k < 40; k++) {
      const parts = chunks(rng, rng.int(5));
      const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        joined.set(p, at);
        at += p.length;
      }
      expect(nodeSha256OfChunks(parts)).toBe(nobleSha256OfChunks(parts));
      expect(nodeSha256OfChunks(parts)).toBe(sha256Hex(joined));
    }
  });

  it('the site\'s checks use the hasher they are given (the initial weights against the terms; the inspection cache key)', async () => {
    await selectNodeBackend();
    const initial = new Uint8Array([1, 2, 3, 4]);
    const t = terms((x) => {
      x.model.initialWeightsHash = sha256Hex(initial);
    });
    const seen: number[] = [];
    const spy = (parts: readonly Uint8Array[]) => (seen.push(parts.reduce((n, p) => n + p.length, 0)), nodeSha256OfChunks(parts));
    const fit = { runId: t.runId, round: 1, modelVersion: 0, weights: initial, config: t.train } as unknown as FitInstruction;
    checkFitInstruction(fit, t, policy(), spy);
    checkEvaluateInstruction({ runId: t.runId, round: t.rounds, modelVersion: 0, weights: initial } as never, t, spy);
    expect(seen).toEqual([4, 4]);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] })] });
    try {
      const gate = new ModelInspectionGate({ action: 'warn', allow: [] } as never, spy);
      const data = { x: new Float32Array(8), y: new Int32Array(4), numClasses: 3, numFeatures: 2 } as never;
      gate.check(model, data, { runId: 'r', modelVersion: 1, batchSize: 2 });
      // The first layer's kernel (2×3) and bias (3): 36 bytes.
      expect(seen.at(-1)).toBe(36);
    } finally {
      model.dispose();
    }
  });
});
