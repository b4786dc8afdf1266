import { describe, expect, it } from 'vitest';
import { StreamingFedAvgAggregator } from '../../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { decodeBinaryField } from '../../coordinator/src/engine/aggregation/aggregator-partial.ts';

// A cluster follower sends its streaming-FedAvg partial with the sums as bytes (msgpack carries binary);
// the HTTP/JSON form keeps base64. Both merge to the same bits; bytes of the wrong length are refused.

const LENGTHS = [3, 2];
const global = [new Float32Array([0, 0, 0]), new Float32Array([0, 0])];
const plan = { runId: 'r', round: 1, attempt: 1, global, strategyState: undefined, selected: 4 };
const updates: Array<[string, number, number[]]> = [
  ['a', 3, [1, 2, 3, 4, 5]],
  ['b', 7, [-1, 0.5, 0.25, 3, -2]],
  ['c', 2, [0.1, 0.2, 0.3, 0.4, 0.5]],
  ['d', 5, [2, -2, 1, -1, 1e-7]],
];

function fed(items: typeof updates): StreamingFedAvgAggregator {
  const agg = new StreamingFedAvgAggregator(LENGTHS, { kernel: 'js' });
  agg.begin(plan);
  for (const [siteId, n, v] of items) agg.add({ siteId, numExamples: n, weights: [new Float32Array(v.slice(0, 3)), new Float32Array(v.slice(3))] });
  return agg;
}

const bits = (w: Float32Array[]) => w.map((t) => Array.from(new Uint32Array(t.buffer, t.byteOffset, t.length)));

describe('streaming FedAvg partial: sums as bytes or base64', () => {
  it('partial({ binary: true }) carries the sums as 16 bytes per parameter, and merges to the same bits as the base64 form', () => {
    const binary = fed(updates.slice(2)).partial({ binary: true });
    const text = fed(updates.slice(2)).partial();
    expect(binary.state.sums).toBeInstanceOf(Uint8Array);
    expect((binary.state.sums as Uint8Array).byteLength).toBe(16 * 5);
    expect(typeof text.state.sums).toBe('string');
    expect(Buffer.from(text.state.sums as string, 'base64')).toEqual(Buffer.from(binary.state.sums as Uint8Array));

    const viaBytes = fed(updates.slice(0, 2));
    viaBytes.merge({ ...binary, state: { ...binary.state, sums: Buffer.from(binary.state.sums as Uint8Array) } });
    const viaText = fed(updates.slice(0, 2));
    viaText.merge(JSON.parse(JSON.stringify(text)));
    const single = fed(updates);
    expect(bits(viaBytes.finish().weights)).toEqual(bits(single.finish().weights));
    expect(bits(viaText.finish().weights)).toEqual(bits(single.finish().weights));
  });

  it.each([
    ['one byte short', 16 * 5 - 1],
    ['one byte long', 16 * 5 + 1],
    ['empty', 0],
  ])('refuses sums bytes %s (malformed_payload), and the leader is unchanged', (_, length) => {
    const leader = fed(updates.slice(0, 2));
    const before = JSON.stringify(leader.partial());
    const p = fed(updates.slice(2)).partial({ binary: true });
    expect(() => leader.merge({ ...p, state: { ...p.state, sums: new Uint8Array(length) } })).toThrow(expect.objectContaining({ code: 'malformed_payload' }));
    expect(JSON.stringify(leader.partial())).toBe(before);
  });
});

describe('decodeBinaryField', () => {
  it('copies bytes of the exact length out of the message', () => {
    const src = new Uint8Array([1, 2, 3]);
    const out = decodeBinaryField(src, 3, 'f');
    expect(Array.from(out)).toEqual([1, 2, 3]);
    src[0] = 9;
    expect(out[0]).toBe(1);
  });
  it.each([
    ['bytes of another length', new Uint8Array(4), 'f must be 3 bytes'],
    ['base64 of another length', Buffer.from([1, 2, 3, 4]).toString('base64'), 'f must be base64 of 3 bytes'],
    ['a number', 3, 'f must be base64 of 3 bytes'],
    ['an array', [1, 2, 3], 'f must be base64 of 3 bytes'],
  ])('refuses %s', (_, value, message) => {
    expect(() => decodeBinaryField(value, 3, 'f')).toThrow(expect.objectContaining({ code: 'malformed_payload', message }));
  });
  it('reads base64 text as before', () => {
    expect(Array.from(decodeBinaryField(Buffer.from([7, 8, 9]).toString('base64'), 3, 'f'))).toEqual([7, 8, 9]);
  });
});
