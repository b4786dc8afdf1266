import { readFileSync, writeFileSync, truncateSync, statSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckpointStore, decodeState, encodeState, type Checkpoint } from '@fedtune/coordinator';
import { bytesOf, makeReport, makeWeights, tempDir } from './helpers.ts';

function checkpoint(round: number, runId = 'run-a'): Checkpoint {
  const m = [new Float32Array([1.5, -0, 3e-39, NaN]), new Float32Array(0)];
  const v = [new Float32Array([0.25, 1e30, -7, 0]), new Float32Array(0)];
  return {
    runId,
    round,
    weights: makeWeights(round),
    strategyState: {
      round,
      m,
      v,
      centre: null,
      history: [{ norm: 1.25, clipped: true, delta: new Float32Array([round, -round]) }, null],
      scalars: [NaN, Infinity, -Infinity, -0, 0, 1e-310],
      wrapper: { $ft: 'a user key that looks like a tag', f64: new Float64Array([Math.PI, -0]) },
      ints: new Int32Array([-1, 2 ** 31 - 1]),
    },
    rng: { sample: 0xdeadbeef + round, dropout: 7 },
    accountant: { epsilon: 1.234, steps: [1, 2, 3], rdp: new Float64Array([0.1, 0.2]) },
    report: makeReport(runId, round),
  };
}

/** Structural equality plus bit equality of every typed array (toEqual alone would accept NaN for any NaN). */
function expectBitExact(actual: unknown, expected: unknown, path = '$'): void {
  if (ArrayBuffer.isView(expected)) {
    expect(actual?.constructor, path).toBe(expected.constructor);
    expect(bytesOf(actual as ArrayBufferView).equals(bytesOf(expected)), `${path} bytes`).toBe(true);
    return;
  }
  if (typeof expected === 'number') {
    expect(Object.is(actual, expected), `${path}: ${String(actual)} vs ${expected}`).toBe(true);
    return;
  }
  if (expected === null || typeof expected !== 'object') {
    expect(actual, path).toBe(expected);
    return;
  }
  expect(typeof actual, path).toBe('object');
  expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) expectBitExact((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
}

describe('checkpoints', () => {
  it('round-trip bit-exactly: weights, strategy state with Float32Arrays, rng, accountant, report', async () => {
    const store = new CheckpointStore(tempDir());
    const ckpt = checkpoint(3);
    ckpt.report.rounds[0].federated = { sites: [], accuracy: NaN };
    const { path, bytes } = await store.write(ckpt);
    expect(statSync(path).size).toBe(bytes);
    const back = store.read(3);
    expect(back.createdAt).toMatch(/^\d{4}-/);
    expectBitExact({ ...back, createdAt: undefined }, { ...ckpt, createdAt: undefined });
    // The decoded arrays are independent copies.
    const m = (back.strategyState as { m: Float32Array[] }).m[0];
    m[0] = 99;
    expect(store.read(3).strategyState).toMatchObject({ round: 3 });
    expect((store.read(3).strategyState as { m: Float32Array[] }).m[0][0]).toBe(1.5);
  });

  it('the state codec refuses what it cannot restore', () => {
    expect(() => encodeState({ when: new Date() })).toThrow(/Date/);
    expect(() => encodeState({ f: () => 1 })).toThrow(/function/);
    // Views into a larger buffer encode only their own bytes.
    const buffer = new Float32Array([1, 2, 3, 4]);
    const encoded = encodeState({ a: buffer.subarray(1, 3) });
    expect(encoded.blobs[0].byteLength).toBe(8);
    expect(decodeState(encoded.json, encoded.blobs)).toEqual({ a: new Float32Array([2, 3]) });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeState(cyclic)).toThrow(/cycle/);
  });

  it('latest() returns the newest checkpoint and keeps only the last K', async () => {
    const store = new CheckpointStore(tempDir(), { keep: 2 });
    expect(store.latest()).toEqual({ warnings: [] });
    for (let r = 1; r <= 4; r++) await store.write(checkpoint(r));
    expect(store.list().map((f) => f.round)).toEqual([4, 3]);
    const latest = store.latest();
    expect(latest.warnings).toEqual([]);
    expect(latest.checkpoint!.round).toBe(4);
    expect(readdirSync(store.dir).sort()).toEqual(['round-3.ckpt', 'round-4.ckpt']);
  });

  it('a truncated newest checkpoint is detected and the previous good one used, with a warning', async () => {
    const store = new CheckpointStore(tempDir());
    await store.write(checkpoint(1));
    await store.write(checkpoint(2));
    truncateSync(store.pathOf(2), Math.floor(statSync(store.pathOf(2)).size / 2));
    const latest = store.latest();
    expect(latest.checkpoint!.round).toBe(1);
    expectBitExact(latest.checkpoint!.weights, checkpoint(1).weights);
    expect(latest.warnings).toHaveLength(1);
    expect(latest.warnings[0].round).toBe(2);
    expect(latest.warnings[0].message).toMatch(/round-2\.ckpt.*truncated/);
    expect(() => store.read(2)).toThrow(/truncated/);
  });

  it('a bit-flipped newest checkpoint fails its checksum and the previous good one is used, with a warning', async () => {
    const store = new CheckpointStore(tempDir());
    await store.write(checkpoint(1));
    await store.write(checkpoint(2));
    await store.write(checkpoint(3));
    for (const round of [3, 2]) {
      const bytes = readFileSync(store.pathOf(round));
      bytes[bytes.length - 5] ^= 0x10; // one bit in the last binary section
      writeFileSync(store.pathOf(round), bytes);
    }
    const latest = store.latest();
    expect(latest.checkpoint!.round).toBe(1);
    expect(latest.warnings.map((w) => w.round)).toEqual([3, 2]);
    expect(latest.warnings[0].message).toMatch(/checksum mismatch/);
    // A file that is not a checkpoint at all (e.g. zero-filled after a crash) is skipped too.
    writeFileSync(store.pathOf(4), new Uint8Array(4096));
    const again = store.latest();
    expect(again.checkpoint!.round).toBe(1);
    expect(again.warnings.map((w) => w.round)).toEqual([4, 3, 2]);
    expect(again.warnings[0].message).toMatch(/magic/);
  });

  it('every checkpoint corrupted: no checkpoint, only warnings (never a throw)', async () => {
    const store = new CheckpointStore(tempDir());
    await store.write(checkpoint(1));
    truncateSync(store.pathOf(1), 10);
    const latest = store.latest();
    expect(latest.checkpoint).toBeUndefined();
    expect(latest.warnings).toHaveLength(1);
  });
});
