import { describe, expect, it } from 'vitest';
import { countBinaryFields, packBinaryFields, unpackBinaryFields } from '@fedtune/shared';
import { thrown } from '../helpers/thrown.ts';

/**
 * Exact values of the packed binary fields (shared/src/transport/binary-fields.ts): the 32-level depth bound of each
 * walk, to the level; the 1,000,000-reference bound, to the reference; the fields restored as plain own, enumerable,
 * writable properties; and the values that are neither packed nor references (null, undefined, raw binary) passed
 * through as they are.
 */
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

/** `leaf` wrapped in `levels` arrays (or objects `{ d: … }`): the leaf sits `levels` below the value. */
const inArrays = (leaf: unknown, levels: number): unknown => (levels === 0 ? leaf : [inArrays(leaf, levels - 1)]);
const inObjects = (leaf: unknown, levels: number): unknown => (levels === 0 ? leaf : { d: inObjects(leaf, levels - 1) });
/** The value `levels` below `v` (through arrays' first items or objects' `d`). */
const dig = (v: unknown, levels: number): unknown => (levels === 0 ? v : dig(Array.isArray(v) ? v[0] : (v as { d: unknown }).d, levels - 1));

describe('countBinaryFields walks 32 levels below the payload', () => {
  it.each([
    ['arrays', inArrays],
    ['objects', inObjects],
  ])('through %s: a binary value 33 levels down is counted, one 34 levels down is not', (_how, wrap) => {
    expect(countBinaryFields(wrap(bytes(2), 33))).toBe(1);
    expect(countBinaryFields(wrap(bytes(2), 34))).toBe(0);
    expect(countBinaryFields({ a: bytes(1), b: wrap(bytes(2), 32), c: wrap(bytes(3), 33) })).toBe(2);
  });
});

describe('packBinaryFields', () => {
  it('keeps null, numbers, strings and booleans beside the packed fields as they are', () => {
    const packed = packBinaryFields({ a: bytes(3), n: null, x: 7, s: 'é', t: true, list: [null, bytes(9, 2)] }) as Record<string, unknown>;
    expect(packed).toEqual({ a: { $bin: [0, 3] }, n: null, x: 7, s: 'é', t: true, list: [null, { $bin: [8, 9] }], $blob: expect.any(Uint8Array) });
    expect(Array.from(packed.$blob as Uint8Array)).toEqual([...bytes(3), 0, 0, 0, 0, 0, ...bytes(9, 2), 0, 0, 0, 0, 0, 0, 0]);
  });

  it.each([
    ['arrays', inArrays],
    ['objects', inObjects],
  ])('through %s: packs a binary field 33 levels down; one 34 levels down stays in place, as countBinaryFields does not count it', (_how, wrap) => {
    const reached = packBinaryFields({ a: bytes(3), b: wrap(bytes(5, 7), 32) }) as Record<string, unknown>;
    expect(dig(reached.b, 32)).toEqual({ $bin: [8, 5] });
    expect(Array.from(reached.$blob as Uint8Array).slice(8, 13)).toEqual(Array.from(bytes(5, 7)));

    const deep = bytes(5, 7);
    const beyond = packBinaryFields({ a: bytes(3), c: bytes(4), b: wrap(deep, 33) }) as Record<string, unknown>;
    expect(dig(beyond.b, 33)).toBe(deep);
    expect(beyond.$blob).toHaveLength(16);
  });

  it('an array of binary fields at the top is not packed (a payload is an object)', () => {
    const list = [bytes(1), bytes(2)];
    expect(packBinaryFields(list)).toBe(list);
  });
});

describe('unpackBinaryFields', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 3],
    ['a string', '$blob'],
  ])('returns %s as it is', (_what, raw) => {
    expect(unpackBinaryFields(raw)).toBe(raw);
  });

  it('an array is never a packed payload, even with a $blob property', () => {
    const list = Object.assign([{ $bin: [0, 1] }], { $blob: bytes(4) });
    expect(unpackBinaryFields(list)).toBe(list);
  });

  it('null fields, and binary fields that are not references, come back as they are', () => {
    const raw = Uint8Array.of(9, 8, 7);
    const back = unpackBinaryFields({ $blob: bytes(4), n: null, raw, list: [null, raw], ref: { $bin: [1, 2] } }) as Record<string, unknown>;
    expect(back).toEqual({ n: null, raw, list: [null, raw], ref: bytes(4).subarray(1, 3) });
    expect(back.raw).toBe(raw);
    expect((back.list as unknown[])[1]).toBe(raw);
  });

  it('restored fields are own, enumerable, writable, configurable properties', () => {
    const back = unpackBinaryFields({ $blob: bytes(4), x: { $bin: [0, 2] }, y: { z: 1 } }) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['x', 'y']);
    expect(Object.keys(back.y as object)).toEqual(['z']);
    for (const [target, key] of [[back, 'x'], [back, 'y'], [back.y, 'z']] as const) {
      expect(Object.getOwnPropertyDescriptor(target, key)).toMatchObject({ enumerable: true, writable: true, configurable: true });
    }
    back.x = 'changed';
    expect(back.x).toBe('changed');
  });

  it.each([
    ['arrays', inArrays],
    ['objects', inObjects],
  ])('through %s: a container 32 levels down is read, one 33 levels down refuses the payload', (_how, wrap) => {
    const read = unpackBinaryFields({ $blob: bytes(4), x: wrap({ $bin: [1, 2] }, 31) }) as Record<string, unknown>;
    expect(Array.from(dig(read.x, 31) as Uint8Array)).toEqual(Array.from(bytes(4).subarray(1, 3)));
    expect(dig((unpackBinaryFields({ $blob: bytes(4), x: wrap([], 31) }) as Record<string, unknown>).x, 31)).toEqual([]);

    const e = thrown(() => unpackBinaryFields({ $blob: bytes(4), x: wrap([], 32) }));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toBe('packed payload nested deeper than 32 levels');
  });

  it('reads 1,000,000 references, and refuses the 1,000,001st', () => {
    const ref = { $bin: [0, 1] };
    const read = unpackBinaryFields({ $blob: bytes(8), x: new Array(1_000_000).fill(ref) }) as { x: Uint8Array[] };
    expect(read.x).toHaveLength(1_000_000);
    expect(Array.from(read.x[999_999])).toEqual([bytes(8)[0]]);

    const e = thrown(() => unpackBinaryFields({ $blob: bytes(8), x: new Array(1_000_001).fill(ref) }));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toBe('packed payload has too many binary fields');
  });

  it('refusals name the field and the buffer exactly', () => {
    expect(thrown(() => unpackBinaryFields({ $blob: 'AAAA' })).message).toBe('packed payload: $blob must be binary');
    expect(thrown(() => unpackBinaryFields({ $blob: bytes(4), x: { $bin: [-1, 2] } })).message).toBe('packed payload: $bin must be [offset, length] of non-negative integers');
    expect(thrown(() => unpackBinaryFields({ $blob: bytes(4), x: { $bin: [3, 2] } })).message).toBe('packed payload: binary field [3, 2] lies outside the 4-byte buffer');
  });
});
