import { describe, expect, it } from 'vitest';
import { assertSameLayout, decodeWeights, encodeWeights, FedtuneError, WEIGHTS_LIMITS, type FedtuneErrorCode, type Weights, type WeightsManifest } from '@fedtune/shared';
import { thrown } from './helpers/thrown.ts';

function sample(): Weights {
  const a = new Float32Array([1.5, -2.25, Number.MIN_VALUE, -0, 3.4028234663852886e38, NaN, Infinity, -Infinity]);
  const b = new Float32Array(12).map((_, i) => Math.fround(Math.sin(i) * 1e-3));
  return {
    manifest: [
      { name: 'dense/kernel', shape: [2, 4], dtype: 'float32' },
      { name: 'empty', shape: [0, 3], dtype: 'float32' },
      { name: 'dense/bias', shape: [3, 4], dtype: 'float32' },
    ],
    arrays: [a, new Float32Array(0), b],
  };
}

function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

const MAGIC = [0x46, 0x54, 0x57, 0x31]; // "FTW1"

/** A payload built by hand: prefix, header bytes, padding and data as given (defaults: zero padding, no data). */
function frame(options: { header: string | Uint8Array; magic?: number[]; headerLength?: number; padding?: number[]; dataBytes?: number }): Uint8Array {
  const header = typeof options.header === 'string' ? new TextEncoder().encode(options.header) : options.header;
  const padding = options.padding ?? new Array(((8 + header.length + 3) & ~3) - 8 - header.length).fill(0);
  const out = new Uint8Array(8 + header.length + padding.length + (options.dataBytes ?? 0));
  out.set(options.magic ?? MAGIC, 0);
  new DataView(out.buffer).setUint32(4, options.headerLength ?? header.length, true);
  out.set(header, 8);
  out.set(padding, 8 + header.length);
  return out;
}

function specsHeader(specs: unknown[]): string {
  return JSON.stringify({ specs });
}

function expectRefused(fn: () => unknown, code: FedtuneErrorCode, message: RegExp | string): void {
  const err = thrown(fn);
  expect({ code: err.code, message: err.message }).toEqual({ code, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  expect(err.message.length).toBeLessThanOrEqual(400);
}

describe('weights codec', () => {
  it('round-trips bit-exactly, including NaN, ±0, infinities and empty tensors', () => {
    const w = sample();
    const decoded = decodeWeights(encodeWeights(w));
    expect(decoded.manifest).toEqual(w.manifest);
    expect(decoded.arrays.map(bitsOf)).toEqual(w.arrays.map(bitsOf));
  });

  it('lays the payload out exactly: magic, header length, header, zero padding to 4 bytes, float32 data', () => {
    const w = { manifest: [{ name: 'x', shape: [2], dtype: 'float32' as const }], arrays: [new Float32Array([1, -2])] };
    const bytes = encodeWeights(w);
    const header = new TextEncoder().encode(specsHeader(w.manifest));
    const dataOffset = (8 + header.length + 3) & ~3;
    expect(Array.from(bytes.subarray(0, 4))).toEqual(MAGIC);
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(header.length);
    expect(bytes.subarray(8, 8 + header.length)).toEqual(header);
    expect(Array.from(bytes.subarray(8 + header.length, dataOffset)).every((b) => b === 0)).toBe(true);
    expect(bytes.length).toBe(dataOffset + 8);
    expect(Array.from(new Float32Array(bytes.buffer, dataOffset, 2))).toEqual([1, -2]);
  });

  it('encodes an empty manifest as a header and nothing else', () => {
    const bytes = encodeWeights({ manifest: [], arrays: [] });
    expect(bytes.length).toBe((8 + '{"specs":[]}'.length + 3) & ~3);
    expect(decodeWeights(bytes)).toEqual({ manifest: [], arrays: [] });
  });

  it('decodes views at every byte offset: aligned data is a view, misaligned data is copied once', () => {
    const w = sample();
    const bytes = encodeWeights(w);
    const dataOffset = bytes.length - 20 * 4;
    for (let offset = 0; offset < 8; offset++) {
      const backing = new Uint8Array(bytes.length + offset + 5);
      backing.set(bytes, offset);
      const view = backing.subarray(offset, offset + bytes.length);
      const decoded = decodeWeights(view);
      expect(decoded.arrays.map(bitsOf)).toEqual(w.arrays.map(bitsOf));
      const aligned = (offset + dataOffset) % 4 === 0;
      expect(decoded.arrays[0].buffer === backing.buffer).toBe(aligned);
      expect(decoded.arrays[0].byteOffset).toBe(aligned ? offset + dataOffset : 0);
      expect(decoded.arrays[2].byteOffset).toBe((aligned ? offset + dataOffset : 0) + 8 * 4);
      // A copy does not see later writes to the payload; a view does.
      backing[offset + dataOffset] ^= 0xff;
      expect(bitsOf(decoded.arrays[0])[0] === bitsOf(w.arrays[0])[0]).toBe(!aligned);
    }
  });

  it('decodes a Node Buffer slice from a shared pool', () => {
    const w = sample();
    const bytes = encodeWeights(w);
    const pool = Buffer.alloc(bytes.length + 3);
    Buffer.from(bytes).copy(pool, 3);
    expect(decodeWeights(pool.subarray(3)).arrays.map(bitsOf)).toEqual(w.arrays.map(bitsOf));
  });

  it('writes no JSON number arrays: the payload is header + 4 bytes per value', () => {
    const w = { manifest: [{ name: 'x', shape: [1000], dtype: 'float32' as const }], arrays: [new Float32Array(1000).fill(0.123456)] };
    const bytes = encodeWeights(w);
    expect(bytes.length).toBeLessThan(4000 + 100);
    expect(new TextDecoder().decode(bytes)).not.toContain('0.123');
  });

  it('refuses to encode arrays that do not match the manifest', () => {
    expectRefused(() => encodeWeights({ manifest: [{ name: 'x', shape: [3], dtype: 'float32' }], arrays: [new Float32Array(2)] }), 'shape_mismatch', 'tensor "x": expected 3 values, got 2');
    expectRefused(() => encodeWeights({ manifest: [{ name: 'x', shape: [3], dtype: 'float32' }], arrays: [] }), 'shape_mismatch', 'manifest has 1 tensors but 0 arrays were given');
    expectRefused(() => encodeWeights({ manifest: [], arrays: [new Float32Array(1)] }), 'shape_mismatch', 'manifest has 0 tensors but 1 arrays were given');
  });
});

describe('weights codec refuses malformed payloads with a typed, bounded error', () => {
  const one = specsHeader([{ name: 'w', shape: [2], dtype: 'float32' }]);

  it('not bytes', () => {
    for (const input of [new ArrayBuffer(16), [70, 84, 87, 49, 0, 0, 0, 0], 'FTW1', null, undefined, new Float32Array(4)]) {
      expectRefused(() => decodeWeights(input as never), 'codec', 'weights payload must be bytes');
    }
  });

  it('shorter than the 8-byte prefix (every length 0..7); 8 bytes get past the length check', () => {
    for (let n = 0; n < 8; n++) expectRefused(() => decodeWeights(new Uint8Array(n)), 'codec', `weights payload too short (${n} bytes)`);
    expectRefused(() => decodeWeights(frame({ header: '' })), 'codec', 'weights header is not valid JSON');
  });

  it('a wrong magic number, and a known magic with another format version', () => {
    for (let i = 0; i < 3; i++) {
      const magic = [...MAGIC];
      magic[i] ^= 0x20;
      expectRefused(() => decodeWeights(frame({ header: one, magic, dataBytes: 8 })), 'codec', 'weights payload has a bad magic number');
    }
    expectRefused(() => decodeWeights(frame({ header: one, magic: [0x46, 0x54, 0x57, 0x32], dataBytes: 8 })), 'codec', 'weights format version "2" is not supported (expected "1")');
    expectRefused(() => decodeWeights(frame({ header: one, magic: [0x46, 0x54, 0x57, 0x00], dataBytes: 8 })), 'codec', 'weights format version "\\u0000" is not supported (expected "1")');
    expectRefused(() => decodeWeights(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'codec', 'weights payload has a bad magic number');
  });

  it('a header length past the end of the payload (boundary: exactly to the end is not past it)', () => {
    const bytes = frame({ header: '{"specs":[]}' });
    const exact = bytes.length - 8;
    expect(exact).toBe(12);
    expect(decodeWeights(bytes)).toEqual({ manifest: [], arrays: [] });
    const past = bytes.slice();
    new DataView(past.buffer).setUint32(4, exact + 1, true);
    expectRefused(() => decodeWeights(past), 'codec', 'weights header runs past the payload');
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
    expectRefused(() => decodeWeights(huge), 'codec', `weights header is ${0xffffffff} bytes, the limit is ${WEIGHTS_LIMITS.maxHeaderBytes}`);
    new DataView(huge.buffer).setUint32(4, WEIGHTS_LIMITS.maxHeaderBytes + 1, true);
    expectRefused(() => decodeWeights(huge), 'codec', /^weights header is 16777217 bytes, the limit/);
    new DataView(huge.buffer).setUint32(4, WEIGHTS_LIMITS.maxHeaderBytes, true);
    expectRefused(() => decodeWeights(huge), 'codec', 'weights header runs past the payload');
  });

  it('a header that is not UTF-8, not JSON, or JSON without a specs list', () => {
    const utf8 = new TextEncoder();
    const notUtf8 = new Uint8Array([...utf8.encode('{"specs":[{"name":"'), 0xff, 0xfe, ...utf8.encode('","shape":[1],"dtype":"float32"}]}')]);
    expectRefused(() => decodeWeights(frame({ header: notUtf8, dataBytes: 4 })), 'codec', 'weights header is not valid UTF-8');
    expect(thrown(() => decodeWeights(frame({ header: notUtf8, dataBytes: 4 }))).cause).toBeInstanceOf(TypeError);
    expect(thrown(() => decodeWeights(frame({ header: '{' }))).cause).toBeInstanceOf(SyntaxError);
    expectRefused(() => decodeWeights(frame({ header: new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d]) })), 'codec', 'weights header is not valid UTF-8'); // an encoded surrogate
    for (const header of ['{', '{"specs":[]', 'specs', '\u0000']) expectRefused(() => decodeWeights(frame({ header })), 'codec', 'weights header is not valid JSON');
    for (const header of ['[]', 'null', '1', '"specs"', 'true', '{}', '{"specs":{}}', '{"specs":"[]"}', '{"specs":null}', '[{"specs":[]}]', '{"Specs":[]}']) {
      expectRefused(() => decodeWeights(frame({ header })), 'codec', 'weights header has no specs list');
    }
  });

  it('specs that are not objects, or lack a string name', () => {
    for (const spec of [null, 1, 'w', [], [{ name: 'w' }], true]) {
      expectRefused(() => decodeWeights(frame({ header: specsHeader([spec]) })), 'codec', 'spec 0 is not an object');
    }
    for (const name of [undefined, 1, null, ['w'], { n: 'w' }]) {
      expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'ok', shape: [], dtype: 'float32' }, { name, shape: [1], dtype: 'float32' }]), dataBytes: 8 })), 'codec', 'spec 1: name must be a string');
    }
  });

  it('names longer than the limit (boundary: exactly the limit passes)', () => {
    const max = WEIGHTS_LIMITS.maxNameLength;
    const atLimit = decodeWeights(frame({ header: specsHeader([{ name: 'n'.repeat(max), shape: [1], dtype: 'float32' }]), dataBytes: 4 }));
    expect(atLimit.manifest[0].name).toHaveLength(max);
    expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'n'.repeat(max + 1), shape: [1], dtype: 'float32' }]), dataBytes: 4 })), 'codec', `spec 0: name is ${max + 1} characters, the limit is ${max}`);
    expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'n'.repeat(1_000_000), shape: [1], dtype: 'float32' }]), dataBytes: 4 })), 'codec', /^spec 0: name is 1000000 characters/);
  });

  it('a dtype other than float32, quoted clipped', () => {
    expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'w', shape: [1], dtype: 'int32' }]), dataBytes: 4 })), 'dtype_mismatch', 'spec 0 ("w"): dtype "int32" is not float32');
    expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'w', shape: [1] }]), dataBytes: 4 })), 'dtype_mismatch', 'spec 0 ("w"): dtype "undefined" is not float32');
    expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'w', shape: [1], dtype: 'FLOAT32' }]), dataBytes: 4 })), 'dtype_mismatch', /dtype "FLOAT32"/);
    const err = thrown(() => decodeWeights(frame({ header: specsHeader([{ name: 'w'.repeat(400), shape: [1], dtype: 'x'.repeat(5_000_000) }]), dataBytes: 4 })));
    expect(err.code).toBe('dtype_mismatch');
    expect(err.message).toMatch(/^spec 0 \("w{120}… \(280 more characters\)"\): dtype "x{120}… \(4999880 more characters\)" is not float32$/);
  });

  it('shapes that are not lists, of too high a rank, or with dimensions that are not integers in range', () => {
    const max = WEIGHTS_LIMITS.maxRank;
    const rankMax = decodeWeights(frame({ header: specsHeader([{ name: 'w', shape: new Array(max).fill(1), dtype: 'float32' }]), dataBytes: 4 }));
    expect(rankMax.manifest[0].shape).toHaveLength(max);
    for (const shape of [undefined, 2, '2', { 0: 2, length: 1 }, new Array(max + 1).fill(1), new Array(100_000).fill(1)]) {
      expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'w', shape, dtype: 'float32' }]), dataBytes: 4 })), 'codec', `spec 0 ("w"): shape must be a list of at most ${max} dimensions`);
    }
    const dims: Array<[unknown, string]> = [
      [-1, '"-1"'],
      [1.5, '"1.5"'],
      [null, '"null"'],
      ['2', '"2"'],
      [[2], '"an array of 1"'],
      [{}, '"an object"'],
      [true, '"true"'],
      [1e300, '"1e+300"'],
      [WEIGHTS_LIMITS.maxDim + 1, '"2147483648"'],
    ];
    for (const [d, shown] of dims) {
      expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'w', shape: [1, d], dtype: 'float32' }]), dataBytes: 4 })), 'codec', `spec 0 ("w"): dimension ${shown} is not an integer in 0..${WEIGHTS_LIMITS.maxDim}`);
    }
    // The largest dimension passes the dimension check and then fails on the data length (not on arithmetic).
    expectRefused(() => decodeWeights(frame({ header: specsHeader([{ name: 'w', shape: new Array(max).fill(WEIGHTS_LIMITS.maxDim), dtype: 'float32' }]), dataBytes: 4 })), 'codec', /header implies more than 2\^53 \(truncated\)$/);
  });

  it('normalizes a -0 dimension to 0 and reads zero-size tensors', () => {
    const decoded = decodeWeights(frame({ header: '{"specs":[{"name":"z","shape":[-0,5],"dtype":"float32"},{"name":"s","shape":[],"dtype":"float32"}]}', dataBytes: 4 }));
    expect(Object.is(decoded.manifest[0].shape[0], 0)).toBe(true);
    expect(decoded.arrays.map((a) => a.length)).toEqual([0, 1]);
  });

  it('more tensors than the limit (boundary: exactly the limit passes)', () => {
    const max = WEIGHTS_LIMITS.maxTensors;
    const spec = { name: '', shape: [0], dtype: 'float32' };
    expect(decodeWeights(frame({ header: specsHeader(new Array(max).fill(spec)) })).manifest).toHaveLength(max);
    expectRefused(() => decodeWeights(frame({ header: specsHeader(new Array(max + 1).fill(spec)) })), 'codec', `weights header lists ${max + 1} tensors, the limit is ${max}`);
  });

  it('data that is one byte or one value short, or one byte or one value long (boundary: exact passes)', () => {
    const bytes = encodeWeights(sample());
    const n = bytes.length;
    expect(decodeWeights(bytes).arrays).toHaveLength(3);
    expectRefused(() => decodeWeights(bytes.subarray(0, n - 1)), 'codec', `weights payload is ${n - 1} bytes, header implies ${n} (truncated)`);
    expectRefused(() => decodeWeights(bytes.subarray(0, n - 4)), 'codec', `weights payload is ${n - 4} bytes, header implies ${n} (truncated)`);
    for (const extra of [1, 4]) {
      const longer = new Uint8Array(n + extra);
      longer.set(bytes);
      expectRefused(() => decodeWeights(longer), 'codec', `weights payload is ${n + extra} bytes, header implies ${n} (trailing bytes)`);
    }
    // A payload that ends inside the header's padding.
    const header = specsHeader([{ name: 'w', shape: [0], dtype: 'float32' }]);
    const padded = frame({ header });
    const padding = padded.length - 8 - new TextEncoder().encode(header).length;
    expect(padding).toBeGreaterThan(0);
    expectRefused(() => decodeWeights(padded.subarray(0, padded.length - 1)), 'codec', `weights payload is ${padded.length - 1} bytes, header implies ${padded.length} (truncated)`);
    const three = frame({ header: specsHeader([{ name: 'w', shape: [3], dtype: 'float32' }]), dataBytes: 8 });
    expectRefused(() => decodeWeights(three), 'codec', `weights payload is ${three.length} bytes, header implies ${three.length + 4} (truncated)`);
  });

  it('non-zero bytes in the header padding', () => {
    const header = '{"specs":[]}  ';
    expect(decodeWeights(frame({ header, padding: [0, 0] }))).toEqual({ manifest: [], arrays: [] });
    expectRefused(() => decodeWeights(frame({ header, padding: [0, 1] })), 'codec', 'weights header padding is not zero');
    expectRefused(() => decodeWeights(frame({ header, padding: [0x20, 0] })), 'codec', 'weights header padding is not zero');
  });

  it('ignores unknown header and spec fields but never returns them', () => {
    const decoded = decodeWeights(frame({ header: JSON.stringify({ v: 2, specs: [{ name: 'w', shape: [1], dtype: 'float32', extra: 'x', __proto__: { polluted: true } }] }), dataBytes: 4 }));
    expect(decoded.manifest).toEqual([{ name: 'w', shape: [1], dtype: 'float32' }]);
    expect(Object.keys(decoded.manifest[0])).toEqual(['name', 'shape', 'dtype']);
  });
});

describe('assertSameLayout', () => {
  const global: WeightsManifest = [
    { name: 'k', shape: [2, 3], dtype: 'float32' },
    { name: 'b', shape: [3], dtype: 'float32' },
  ];
  const withManifest = (manifest: WeightsManifest, arrays = manifest.map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)))): Weights => ({ manifest, arrays });

  it('accepts exactly the same layout', () => {
    expect(() => assertSameLayout(global, withManifest(structuredClone(global)))).not.toThrow();
    expect(() => assertSameLayout([], withManifest([]))).not.toThrow();
  });

  it('refuses the same rank and size with other dimensions ([3,2] for [2,3])', () => {
    expectRefused(() => assertSameLayout(global, withManifest([{ name: 'k', shape: [3, 2], dtype: 'float32' }, global[1]])), 'shape_mismatch', 'update tensor 0 ("k") has shape [3,2], expected [2,3]');
    expectRefused(() => assertSameLayout(global, withManifest([{ name: 'k', shape: [6], dtype: 'float32' }, global[1]]), 'global model'), 'shape_mismatch', 'global model tensor 0 ("k") has shape [6], expected [2,3]');
    expectRefused(() => assertSameLayout(global, withManifest([{ name: 'k', shape: [2, 3, 1], dtype: 'float32' }, global[1]])), 'shape_mismatch', 'update tensor 0 ("k") has shape [2,3,1], expected [2,3]');
    expectRefused(() => assertSameLayout(global, withManifest([global[0], { name: 'b', shape: [4], dtype: 'float32' }])), 'shape_mismatch', 'update tensor 1 ("b") has shape [4], expected [3]');
    expectRefused(() => assertSameLayout(global, withManifest([global[0], { name: 'b', shape: new Array(1000).fill(1), dtype: 'float32' }])), 'shape_mismatch', 'update tensor 1 ("b") has shape 1000 dimensions, expected [3]');
    // Up to the codec's rank limit a shape is shown whole; past it, only its rank.
    expectRefused(() => assertSameLayout(global, withManifest([global[0], { name: 'b', shape: new Array(WEIGHTS_LIMITS.maxRank).fill(1), dtype: 'float32' }])), 'shape_mismatch', 'update tensor 1 ("b") has shape [1,1,1,1,1,1,1,1], expected [3]');
    expectRefused(() => assertSameLayout(global, withManifest([global[0], { name: 'b', shape: new Array(WEIGHTS_LIMITS.maxRank + 1).fill(1), dtype: 'float32' }])), 'shape_mismatch', 'update tensor 1 ("b") has shape 9 dimensions, expected [3]');
  });

  it('refuses another tensor count, name or dtype, and arrays of the wrong length', () => {
    expectRefused(() => assertSameLayout(global, withManifest([global[0]])), 'shape_mismatch', 'update has 1 tensors, the global model has 2');
    expectRefused(() => assertSameLayout(global, withManifest([...global, global[1]])), 'shape_mismatch', 'update has 3 tensors, the global model has 2');
    expectRefused(() => assertSameLayout(global, withManifest([global[1], global[0]])), 'shape_mismatch', 'update tensor 0 is named "b", expected "k"');
    expectRefused(() => assertSameLayout(global, withManifest([global[0], { ...global[1], name: 'b'.repeat(10_000) }])), 'shape_mismatch', /^update tensor 1 is named "b{120}… \(9880 more characters\)", expected "b"$/);
    expectRefused(() => assertSameLayout(global, withManifest([global[0], { ...global[1], dtype: 'int32' as 'float32' }])), 'dtype_mismatch', 'update tensor 1 ("b") is "int32", expected float32');
    expectRefused(() => assertSameLayout(global, withManifest(global, [new Float32Array(6)])), 'shape_mismatch', 'update has 1 arrays, the global model has 2 tensors');
    expectRefused(() => assertSameLayout(global, withManifest(global, [new Float32Array(6), new Float32Array(2)])), 'shape_mismatch', 'update tensor 1 ("b") has 2 values, expected 3');
  });
});
