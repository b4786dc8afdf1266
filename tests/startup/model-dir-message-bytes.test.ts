import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectNodeBackend } from '@fedtune/shared/node';
import { loadModelDir, maxMessageBytesFor, maxMessageBytesForModelDir, maxMessageBytesForWeights, pretrainedModelDir } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

const MB = 1024 * 1024;

/** A directory whose model.json is `json` (a string is written as is). */
function modelDirWith(json: unknown): string {
  const dir = join(tempDir(), 'model');
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}
const manifest = (...shapes: unknown[]) => ({ weightsManifest: [{ paths: ['weights.bin'], weights: shapes.map((shape, i) => ({ name: `w${i}`, shape, dtype: 'float32' })) }] });

describe('maxMessageBytesForModelDir: the message limit read from model.json, without tfjs', () => {
  beforeAll(async () => {
    await selectNodeBackend();
  });

  it.each(['mlp', 'cnn'])('equals maxMessageBytesFor of the loaded %s model', async (arch) => {
    const dir = pretrainedModelDir(arch);
    const model = await loadModelDir(dir);
    try {
      expect(maxMessageBytesForModelDir(dir)).toBe(maxMessageBytesFor(model));
    } finally {
      model.dispose();
    }
  });

  it.each([
    ['below 16 MB: 16 MB', 1000, 16 * MB],
    ['exactly at the floor', (15 * MB) / 8, 16 * MB],
    ['one weight over the floor', (15 * MB) / 8 + 1, 16 * MB + 8],
    ['4 M weights: 2 × 16 MB + 1 MB', 4 * MB, 33 * MB],
  ])('maxMessageBytesForWeights %s', (_, weights, bytes) => {
    expect(maxMessageBytesForWeights(weights)).toBe(bytes);
  });

  it('sums every weight of every group (a scalar counts one)', () => {
    const dir = modelDirWith({ weightsManifest: [{ weights: [{ shape: [1000, 1000] }, { shape: [] }] }, { weights: [{ shape: [3, 1000, 1000] }] }] });
    expect(maxMessageBytesForModelDir(dir)).toBe(maxMessageBytesForWeights(4_000_001));
    expect(maxMessageBytesForModelDir(modelDirWith(manifest([2, 0])))).toBe(16 * MB);
  });

  it.each([
    ['no model.json', undefined],
    ['not JSON', '{'],
    ['null', 'null'],
    ['no manifest', { modelTopology: {} }],
    ['an empty manifest', { weightsManifest: [] }],
    ['a group without weights', { weightsManifest: [{ paths: [] }] }],
    ['a weight without a shape', { weightsManifest: [{ weights: [{ name: 'w' }] }] }],
    ['a negative dimension', manifest([2, -1])],
    ['a fractional dimension', manifest([2.5])],
    ['a string dimension', manifest(['2'])],
    ['an unbounded total', manifest([1e6, 1e6, 1e6])],
  ])('undefined for %s (the caller loads the model first)', (_, json) => {
    const dir = json === undefined ? tempDir() : modelDirWith(json);
    expect(maxMessageBytesForModelDir(dir)).toBeUndefined();
  });
});
