import { describe, expect, it } from 'vitest';
import { countBinaryFields, MAX_WIRE_ATTACHMENTS, packBinaryFields, unpackBinaryFields } from '@fedtune/shared';
import { thrown } from './helpers/thrown.ts';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('binary fields on the wire', () => {
  it('socket.io accepts 10 attachments per packet', () => {
    expect(MAX_WIRE_ATTACHMENTS).toBe(10);
  });

  it('counts binary values at any depth, ArrayBuffers included', () => {
    expect(countBinaryFields({ a: bytes(1), b: [bytes(2), { c: new ArrayBuffer(3) }], d: 'x', e: null, f: 3 })).toBe(3);
    expect(countBinaryFields(bytes(4))).toBe(1);
    expect(countBinaryFields({ a: 1 })).toBe(0);
    expect(countBinaryFields(null)).toBe(0);
  });

  it('leaves payloads with zero or one binary field unchanged (same object)', () => {
    const none = { runId: 'r', n: [1, 2] };
    const one = { runId: 'r', weights: bytes(9) };
    expect(packBinaryFields(none)).toBe(none);
    expect(packBinaryFields(one)).toBe(one);
    expect(unpackBinaryFields(one)).toBe(one);
  });

  it('packs many binary fields into exactly one, and restores them bit-exact in place', () => {
    const payload = {
      runId: 'r',
      keys: Array.from({ length: 40 }, (_, i) => ({ siteId: `s${i}`, a: bytes(32, i), b: bytes(i % 13, i + 100) })),
      tail: { nested: [bytes(7, 9), new Uint8Array(0)] },
    };
    const packed = packBinaryFields(payload) as Record<string, unknown>;
    expect(countBinaryFields(packed)).toBe(1);
    expect(packed.$blob).toBeInstanceOf(Uint8Array);
    // 8-byte aligned segments.
    const refs = (packed.keys as Array<{ a: { $bin: [number, number] } }>).map((k) => k.a.$bin[0]);
    expect(refs.every((o) => o % 8 === 0)).toBe(true);
    const back = unpackBinaryFields(structuredClone(packed)) as typeof payload;
    expect(back.runId).toBe('r');
    expect(back.keys.map((k) => [k.siteId, Array.from(k.a), Array.from(k.b)])).toEqual(payload.keys.map((k) => [k.siteId, Array.from(k.a), Array.from(k.b)]));
    expect(Array.from(back.tail.nested[0])).toEqual(Array.from(payload.tail.nested[0]));
    expect(back.tail.nested[1]).toHaveLength(0);
    expect('$blob' in back).toBe(false);
  });

  it('restored fields are views of the attachment, whether it arrives as a Buffer (Node) or a Uint8Array: many references to one large range cost no memory', () => {
    const packed = packBinaryFields({ a: bytes(8), b: bytes(8, 2) }) as Record<string, unknown>;
    for (const blob of [packed.$blob as Uint8Array, Buffer.from(packed.$blob as Uint8Array)]) {
      const back = unpackBinaryFields({ ...packed, $blob: blob }) as { a: Uint8Array; b: Uint8Array };
      expect(back.a.buffer).toBe(blob.buffer);
      expect([Array.from(back.a), Array.from(back.b)]).toEqual([Array.from(bytes(8)), Array.from(bytes(8, 2))]);
    }
    // 50,000 references to the whole of a 4 MB attachment: as copies 200 GB; as views nothing.
    const big = new Uint8Array(4 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const bomb = unpackBinaryFields({ $blob: big, x: Array.from({ length: 50_000 }, () => ({ $bin: [0, big.byteLength] })) }) as { x: Uint8Array[] };
    expect(bomb.x).toHaveLength(50_000);
    expect(bomb.x.every((f) => f.buffer === big.buffer && f.byteLength === big.byteLength)).toBe(true);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('accepts an ArrayBuffer blob (as browsers deliver binary)', () => {
    const packed = packBinaryFields({ a: bytes(3), b: bytes(5, 4) }) as Record<string, unknown>;
    const blob = packed.$blob as Uint8Array;
    const back = unpackBinaryFields({ ...packed, $blob: blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength) }) as { a: Uint8Array; b: Uint8Array };
    expect(Array.from(back.b)).toEqual(Array.from(bytes(5, 4)));
  });

  it('a reference that ends exactly at the end of the buffer is accepted; one byte further is refused', () => {
    const blob = bytes(16);
    expect(Array.from((unpackBinaryFields({ $blob: blob, x: { $bin: [10, 6] } }) as { x: Uint8Array }).x)).toEqual(Array.from(blob.subarray(10, 16)));
    const e = thrown(() => unpackBinaryFields({ $blob: blob, x: { $bin: [10, 7] } }));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toMatch(/outside the 16-byte buffer/);
  });

  it.each([
    ['a blob that is not binary', { $blob: 'AAAA', x: 1 }, /must be binary/],
    ['a negative offset', { $blob: bytes(4), x: { $bin: [-1, 2] } }, /non-negative integers/],
    ['a fractional length', { $blob: bytes(4), x: { $bin: [0, 1.5] } }, /non-negative integers/],
    ['a reference of three numbers', { $blob: bytes(4), x: { $bin: [0, 1, 2] } }, /\[offset, length\]/],
    ['a reference that is not an array', { $blob: bytes(4), x: { $bin: '0,1' } }, /\[offset, length\]/],
    ['a huge length', { $blob: bytes(4), x: { $bin: [0, Number.MAX_SAFE_INTEGER] } }, /outside/],
    ['an unsafe integer', { $blob: bytes(4), x: { $bin: [2 ** 60, 1] } }, /non-negative integers/],
  ])('refuses %s with a typed code', (_name, raw, message) => {
    const e = thrown(() => unpackBinaryFields(raw));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toMatch(message);
    expect(e.message.length).toBeLessThan(200);
  });

  it('refuses nesting deeper than 32 levels instead of overflowing the stack', () => {
    let deep: unknown = { $bin: [0, 1] };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const e = thrown(() => unpackBinaryFields({ $blob: bytes(4), deep }));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toMatch(/deeper than 32/);
  });

  it('an object with other keys beside $bin is data, not a reference', () => {
    const back = unpackBinaryFields({ $blob: bytes(4), x: { $bin: [0, 1], y: 2 } }) as { x: unknown };
    expect(back.x).toEqual({ $bin: [0, 1], y: 2 });
  });

  it('a "__proto__" key stays an own field and never changes a prototype', () => {
    const raw = JSON.parse('{"x":{"__proto__":{"polluted":true}}}') as Record<string, unknown>;
    raw.$blob = bytes(2);
    const back = unpackBinaryFields(raw) as { x: Record<string, unknown> };
    expect(Object.getPrototypeOf(back.x)).toBe(Object.prototype);
    expect(Object.hasOwn(back.x, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('payloads without $blob pass through untouched, even when they look like references', () => {
    const raw = { x: { $bin: [0, 1] } };
    expect(unpackBinaryFields(raw)).toBe(raw);
    expect(unpackBinaryFields('text')).toBe('text');
    expect(unpackBinaryFields([1])).toEqual([1]);
  });
});
