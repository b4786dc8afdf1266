import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { compressedDataBytes, decodeUpdate, encodeUpdate, updateEncodingOf, UpdateEncoding } from '../../shared/src/codec/update-codec.ts';
import { decodeWeights, encodeWeights } from '../../shared/src/codec/weights-codec.ts';
import { deriveSeed, SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { WEIGHTS_LIMITS, type Weights, type WeightsManifest } from '../../shared/src/weights.ts';
import { thrown } from '../helpers/thrown.ts';

const manifest: WeightsManifest = [
  { name: 'dense/kernel', shape: [2, 3], dtype: 'float32' },
  { name: 'dense/bias', shape: [3], dtype: 'float32' },
];
const global = [new Float32Array([1, 2, -3, 0.5, 0, 100]), new Float32Array([0, -1, 2])];
/** Deltas exactly representable in fp16, and sums exact in float32. */
const deltas = [new Float32Array([0.5, -0.25, 0.125, 0, 2 ** -24, -65504]), new Float32Array([1024, -1, 0.0009765625])];
const local: Weights = { manifest, arrays: global.map((g, t) => g.map((v, i) => v + deltas[t][i])) };

/** The header's JSON and data offset of a compressed update, as encodeUpdate wrote it. */
function layout(bytes: Uint8Array): { header: Record<string, unknown>; dataOffset: number } {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))), dataOffset: (8 + length + 3) & ~3 };
}

/** A compressed update with its header replaced (padding redone; the data section kept). */
function withHeader(bytes: Uint8Array, header: unknown): Uint8Array {
  const { dataOffset } = layout(bytes);
  const text = new TextEncoder().encode(JSON.stringify(header));
  const offset = (8 + text.length + 3) & ~3;
  const out = new Uint8Array(offset + bytes.length - dataOffset);
  out.set(bytes.subarray(0, 4));
  new DataView(out.buffer).setUint32(4, text.length, true);
  out.set(text, 8);
  out.set(bytes.subarray(dataOffset), offset);
  return out;
}

const codeOf = (fn: () => unknown) => thrown(fn).code;
/** The header encodeUpdate writes for this manifest in int8. */
const int8Header = JSON.stringify({ encoding: 'int8', specs: manifest });

describe('UpdateEncoding', () => {
  it('lists float32, fp16 and int8; absent means float32', () => {
    expect(UpdateEncoding.options).toEqual(['float32', 'fp16', 'int8']);
    expect(updateEncodingOf({})).toBe('float32');
    expect(updateEncodingOf({ updateEncoding: 'int8' })).toBe('int8');
    expect(updateEncodingOf({ updateEncoding: 'fp16' })).toBe('fp16');
  });

  it('data bytes: 2 per value in fp16; a 4-byte scale per tensor plus 1 per value in int8', () => {
    expect(compressedDataBytes('fp16', [6, 3])).toBe(18);
    expect(compressedDataBytes('int8', [6, 3])).toBe(17);
    expect(compressedDataBytes('int8', [])).toBe(0);
    expect(compressedDataBytes('fp16', [0])).toBe(0);
  });
});

describe('encodeUpdate / decodeUpdate round trips', () => {
  it('float32 is the weights codec, unchanged', () => {
    const bytes = encodeUpdate(local, global, 'float32', 1);
    expect(Array.from(bytes)).toEqual(Array.from(encodeWeights(local)));
    const back = decodeUpdate(bytes, 'float32', global);
    expect(back.manifest).toEqual(manifest);
    expect(back.arrays.map((a) => Array.from(a))).toEqual(local.arrays.map((a) => Array.from(a)));
    // float32 needs no global model.
    expect(decodeUpdate(bytes, 'float32', undefined).arrays[1][0]).toBe(1024);
  });

  it('fp16 carries exactly representable deltas exactly, and takes 2 bytes a value', () => {
    const bytes = encodeUpdate(local, global, 'fp16', 1);
    const { header, dataOffset } = layout(bytes);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x46, 0x54, 0x55, 0x31]); // "FTU1"
    expect(header).toEqual({ encoding: 'fp16', specs: manifest });
    expect(dataOffset % 4).toBe(0);
    expect(bytes.length).toBe(dataOffset + 18);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint16(dataOffset, true)).toBe(0x3800); // 0.5
    expect(view.getUint16(dataOffset + 2, true)).toBe(0xb400); // -0.25
    expect(view.getUint16(dataOffset + 10, true)).toBe(0xfbff); // -65504
    const back = decodeUpdate(bytes, 'fp16', global);
    expect(back.manifest).toEqual(manifest);
    expect(back.arrays.map((a) => Array.from(a))).toEqual(local.arrays.map((a) => Array.from(a)));
  });

  it('fp16 rounds other deltas to the nearest half', () => {
    const l: Weights = { manifest, arrays: [global[0].map((v) => v + 0.1), global[1].map((v) => v - 1 / 3)] };
    const back = decodeUpdate(encodeUpdate(l, global, 'fp16', 1), 'fp16', global);
    expect(back.arrays[0][0]).toBe(Math.fround(1 + 0.0999755859375));
    expect(back.arrays[1][0]).toBe(Math.fround(0 - 0.333251953125));
  });

  it('fp16 refuses a delta that rounds past 65504, or is not finite', () => {
    for (const d of [65520, -70000, NaN, Infinity]) {
      const l: Weights = { manifest, arrays: [global[0].map((v, i) => (i === 4 ? d : v)), global[1]] };
      const e = thrown(() => encodeUpdate(l, global, 'fp16', 1));
      expect(e.code).toBe('non_finite');
      expect(e.message).toContain('index 4');
    }
    // 65519 rounds down to 65504 and is carried.
    const l: Weights = { manifest, arrays: [global[0].map((v, i) => (i === 4 ? 65519 : v)), global[1]] };
    expect(decodeUpdate(encodeUpdate(l, global, 'fp16', 1), 'fp16', global).arrays[0][4]).toBe(65504);
  });

  it('int8: one float32 scale per tensor (max|δ|/127), then one byte a value', () => {
    const bytes = encodeUpdate(local, global, 'int8', 5);
    const { header, dataOffset } = layout(bytes);
    expect(header).toEqual({ encoding: 'int8', specs: manifest });
    expect(bytes.length).toBe(dataOffset + 8 + 9);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getFloat32(dataOffset, true)).toBe(Math.fround(65504 / 127));
    expect(view.getFloat32(dataOffset + 4, true)).toBe(Math.fround(1024 / 127));
    // The largest delta of each tensor is exactly ±127 steps.
    expect(view.getInt8(dataOffset + 8 + 5)).toBe(-127);
    expect(view.getInt8(dataOffset + 8 + 6)).toBe(127);
    const back = decodeUpdate(bytes, 'int8', global);
    for (let t = 0; t < 2; t++) {
      const scale = view.getFloat32(dataOffset + t * 4, true);
      for (let i = 0; i < back.arrays[t].length; i++) expect(Math.abs(back.arrays[t][i] - local.arrays[t][i])).toBeLessThanOrEqual(scale * 1.0001);
    }
  });

  it('int8 rounding is reproducible from the seed (the fit seed, derived for the encoding)', () => {
    const l: Weights = { manifest, arrays: global.map((g) => g.map((v, i) => v + Math.sin(i + 1) * 0.01)) };
    const a = encodeUpdate(l, global, 'int8', 11);
    expect(Array.from(encodeUpdate(l, global, 'int8', 11))).toEqual(Array.from(a));
    expect(Array.from(encodeUpdate(l, global, 'int8', 12))).not.toEqual(Array.from(a));
    // The draws are SeededRandom(deriveSeed(seed, 'update-encoding')) in value order.
    const { dataOffset } = layout(a);
    const random = new SeededRandom(deriveSeed(11, 'update-encoding'));
    const d0 = l.arrays[0].map((v, i) => v - global[0][i]);
    const scale = Math.fround(d0.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127);
    const expected = Array.from(d0, (v) => Math.max(-127, Math.min(127, Math.floor(v / scale + random.next()))));
    expect(Array.from(new Int8Array(a.buffer, a.byteOffset + dataOffset + 8, 6))).toEqual(expected);
  });

  it('int8 of a zero delta: scale 0, decodes to the global model', () => {
    const bytes = encodeUpdate({ manifest, arrays: global.map((g) => g.slice()) }, global, 'int8', 1);
    const { dataOffset } = layout(bytes);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getFloat32(dataOffset, true)).toBe(0);
    expect(decodeUpdate(bytes, 'int8', global).arrays.map((a) => Array.from(a))).toEqual(global.map((a) => Array.from(a)));
  });

  it('compressed sizes against float32 on a 10,000-value model: ≈ 0.5× and ≈ 0.25×', () => {
    const big: WeightsManifest = [{ name: 'w', shape: [100, 100], dtype: 'float32' }];
    const g = [new Float32Array(10_000)];
    const l: Weights = { manifest: big, arrays: [g[0].map((_, i) => Math.cos(i) * 0.01)] };
    const f32 = encodeUpdate(l, g, 'float32', 1).length;
    expect(encodeUpdate(l, g, 'fp16', 1).length / f32).toBeCloseTo(0.5, 2);
    expect(encodeUpdate(l, g, 'int8', 1).length / f32).toBeCloseTo(0.25, 2);
  });

  it('encodeUpdate refuses a layout that differs between the update and the global model', () => {
    const refusal = (fn: () => unknown) => {
      const e = thrown(fn);
      return [e.code, e.message];
    };
    expect(refusal(() => encodeUpdate(local, [global[0]], 'fp16', 1))).toEqual(['shape_mismatch', 'the update has 2 arrays and the global model 1 for 2 tensors']);
    expect(refusal(() => encodeUpdate({ manifest, arrays: [local.arrays[0]] }, global, 'int8', 1))).toEqual(['shape_mismatch', 'the update has 1 arrays and the global model 2 for 2 tensors']);
    expect(refusal(() => encodeUpdate(local, [global[0], new Float32Array(2)], 'fp16', 1))).toEqual(['shape_mismatch', 'tensor "dense/bias": expected 3 values in the update and the global model']);
    expect(refusal(() => encodeUpdate({ manifest, arrays: [local.arrays[0], new Float32Array(4)] }, global, 'int8', 1))).toEqual(['shape_mismatch', 'tensor "dense/bias": expected 3 values in the update and the global model']);
  });

  it('int8 refuses a delta whose scale would exceed the bound', () => {
    const l: Weights = { manifest, arrays: [global[0].map((v, i) => (i === 0 ? 127 * 2 ** 21 : v)), global[1]] };
    expect(codeOf(() => encodeUpdate(l, global, 'int8', 1))).toBe('non_finite');
  });
});

describe('decodeUpdate refuses hostile payloads', () => {
  // Encoded inside each test (not when the file loads), so every codec line runs under the test that checks it.
  const fp16 = () => encodeUpdate(local, global, 'fp16', 1);
  const int8 = () => encodeUpdate(local, global, 'int8', 1);
  const scaleAt = () => layout(int8()).dataOffset;

  const patched = (bytes: Uint8Array, at: number, write: (v: DataView, at: number) => void): Uint8Array => {
    const copy = bytes.slice();
    write(new DataView(copy.buffer), at);
    return copy;
  };

  it.each([
    ['not bytes', () => decodeUpdate([1, 2, 3] as unknown as Uint8Array, 'int8', global), 'codec', "update payload must be bytes"],
    ['shorter than the prefix', () => decodeUpdate(int8().subarray(0, 7), 'int8', global), 'codec', "update payload too short (7 bytes)"],
    ['shorter than the prefix (float32 run)', () => decodeUpdate(int8().subarray(0, 7), 'float32', global), 'codec', "update payload too short (7 bytes)"],
    ['a float32 update in an int8 run', () => decodeUpdate(encodeWeights(local), 'int8', global), 'update_encoding', "this run takes int8 updates: a float32 update is refused"],
    ['a float32 update in an fp16 run', () => decodeUpdate(encodeWeights(local), 'fp16', global), 'update_encoding', "this run takes fp16 updates: a float32 update is refused"],
    ['an int8 update in a float32 run', () => decodeUpdate(int8(), 'float32', global), 'update_encoding', "this run takes float32 updates: a compressed update is refused"],
    ['an fp16 update in an int8 run', () => decodeUpdate(fp16(), 'int8', global), 'update_encoding', "update is encoded as \"fp16\", this run takes int8"],
    ['an int8 update in an fp16 run', () => decodeUpdate(int8(), 'fp16', global), 'update_encoding', "update is encoded as \"int8\", this run takes fp16"],
    ['an unknown encoding tag', () => decodeUpdate(withHeader(int8(), { encoding: 'int4', specs: manifest }), 'int8', global), 'codec', "update is encoded as \"int4\", this run takes int8"],
    ['no encoding tag', () => decodeUpdate(withHeader(int8(), { specs: manifest }), 'int8', global), 'codec', "update is encoded as \"undefined\", this run takes int8"],
    ['a bad magic number', () => decodeUpdate(patched(int8(), 0, (v) => v.setUint32(0, 0x31555447, true)), 'int8', global), 'codec', "update payload has a bad magic number"],
    ['truncated by one byte', () => decodeUpdate(int8().subarray(0, int8().length - 1), 'int8', global), 'codec', "update payload is 164 bytes, header implies 165 (truncated)"],
    ['truncated fp16', () => decodeUpdate(fp16().subarray(0, fp16().length - 2), 'fp16', global), 'codec', "update payload is 164 bytes, header implies 166 (truncated)"],
    ['a trailing byte', () => decodeUpdate(new Uint8Array([...int8(), 0]), 'int8', global), 'codec', "update payload is 166 bytes, header implies 165 (trailing bytes)"],
    ['a header length past the payload', () => decodeUpdate(patched(int8(), 4, (v, at) => v.setUint32(at, int8().length, true)), 'int8', global), 'codec', "update header runs past the payload"],
    ['a header length beyond the limit', () => decodeUpdate(patched(int8(), 4, (v, at) => v.setUint32(at, 0xffffffff, true)), 'int8', global), 'codec', "update header is 4294967295 bytes, the limit is 16777216"],
    ['a header that lies about the lengths (a bigger tensor)', () => decodeUpdate(withHeader(int8(), { encoding: 'int8', specs: [{ ...manifest[0], shape: [2, 4] }, manifest[1]] }), 'int8', global), 'shape_mismatch', "update tensor 0 (\"dense/kernel\") has 8 values, the global model 6"],
    ['a header with one tensor fewer', () => decodeUpdate(withHeader(int8(), { encoding: 'int8', specs: [manifest[0]] }), 'int8', global), 'shape_mismatch', "update has 1 tensors, the global model has 2"],
    ['a header that is not JSON', () => decodeUpdate(patched(int8(), 8, (v, at) => v.setUint8(at, 0x7b + 1)), 'int8', global), 'codec', "update header is not valid UTF-8 JSON"],
    ['a header that is not UTF-8', () => decodeUpdate(patched(int8(), 8, (v, at) => v.setUint8(at, 0xff)), 'int8', global), 'codec', "update header is not valid UTF-8 JSON"],
    ['a header that is a list', () => decodeUpdate(withHeader(int8(), [1]), 'int8', global), 'codec', "update header is not an object"],
    ['a header that is a number', () => decodeUpdate(withHeader(int8(), 5), 'int8', global), 'codec', 'update header is not an object'],
    ['a header that is a string', () => decodeUpdate(withHeader(int8(), 'int8'), 'int8', global), 'codec', 'update header is not an object'],
    ['a header with a byte that is not UTF-8 inside a string (not replaced by U+FFFD)', () => decodeUpdate(patched(int8(), 8 + int8Header.indexOf('kernel'), (v, at) => v.setUint8(at, 0xff)), 'int8', global), 'codec', 'update header is not valid UTF-8 JSON'],
    ['a header that is null', () => decodeUpdate(withHeader(int8(), null), 'int8', global), 'codec', "update header is not an object"],
    ['a spec with another dtype', () => decodeUpdate(withHeader(int8(), { encoding: 'int8', specs: [{ ...manifest[0], dtype: 'float16' }, manifest[1]] }), 'int8', global), 'dtype_mismatch', "spec 0 (\"dense/kernel\"): dtype \"float16\" is not float32"],
    ['no global model to add the delta to', () => decodeUpdate(int8(), 'int8', undefined), 'shape_mismatch', "update has 2 tensors, the global model has 0"],
    ['a NaN scale', () => decodeUpdate(patched(int8(), scaleAt(), (v, at) => v.setFloat32(at, NaN, true)), 'int8', global), 'non_finite', "update tensor \"dense/kernel\" has int8 scale NaN, expected a finite value in 0..1048576"],
    ['an infinite scale', () => decodeUpdate(patched(int8(), scaleAt() + 4, (v, at) => v.setFloat32(at, Infinity, true)), 'int8', global), 'non_finite', "update tensor \"dense/bias\" has int8 scale Infinity, expected a finite value in 0..1048576"],
    ['a negative scale', () => decodeUpdate(patched(int8(), scaleAt(), (v, at) => v.setFloat32(at, -1, true)), 'int8', global), 'non_finite', "update tensor \"dense/kernel\" has int8 scale -1, expected a finite value in 0..1048576"],
    ['a huge scale', () => decodeUpdate(patched(int8(), scaleAt(), (v, at) => v.setFloat32(at, 2 ** 20 + 1, true)), 'int8', global), 'non_finite', "update tensor \"dense/kernel\" has int8 scale 1048577, expected a finite value in 0..1048576"],
    ['an int8 value of -128', () => decodeUpdate(patched(int8(), scaleAt() + 8 + 7, (v, at) => v.setInt8(at, -128)), 'int8', global), 'codec', "update tensor \"dense/bias\" has int8 value -128 at index 1, outside ±127"],
    ['an fp16 infinity', () => decodeUpdate(patched(fp16(), layout(fp16()).dataOffset + 2, (v, at) => v.setUint16(at, 0x7c00, true)), 'fp16', global), 'non_finite', "update tensor \"dense/kernel\" has a non-finite fp16 value at index 1"],
    ['an fp16 -infinity in the second tensor', () => decodeUpdate(patched(fp16(), layout(fp16()).dataOffset + 16, (v, at) => v.setUint16(at, 0xfc00, true)), 'fp16', global), 'non_finite', "update tensor \"dense/bias\" has a non-finite fp16 value at index 2"],
    ['an fp16 NaN', () => decodeUpdate(patched(fp16(), layout(fp16()).dataOffset, (v, at) => v.setUint16(at, 0x7e01, true)), 'fp16', global), 'non_finite', "update tensor \"dense/kernel\" has a non-finite fp16 value at index 0"],
  ])('%s', (_, decode, code, message) => {
    const e = thrown(decode);
    expect(e.code).toBe(code);
    // The exact message: each refusal says which check refused, so a check that is skipped shows.
    expect(e.message).toBe(message);
    expect(e.message.length).toBeLessThan(400);
  });

  /** "FTU1", the header length, the header text, zero padding to 4 bytes (unless `pad` is false) and `data` bytes of zeros. */
  const raw = (headerText: string, data: number, pad = true): Uint8Array => {
    const text = new TextEncoder().encode(headerText);
    const offset = pad ? (8 + text.length + 3) & ~3 : 8 + text.length;
    const out = new Uint8Array(offset + data);
    out.set(new TextEncoder().encode('FTU1'));
    new DataView(out.buffer).setUint32(4, text.length, true);
    out.set(text, 8);
    return out;
  };

  it('a header of exactly the size limit is read; one byte more is refused by the limit, not by a later check', () => {
    const atLimit = int8Header.padEnd(WEIGHTS_LIMITS.maxHeaderBytes, ' ');
    // Scales of 0 and zero values: the global model back.
    const back = decodeUpdate(raw(atLimit, compressedDataBytes('int8', [6, 3])), 'int8', global);
    expect(back.arrays.map((a) => Array.from(a))).toEqual(global.map((a) => Array.from(a)));
    const e = thrown(() => decodeUpdate(raw(`${atLimit} `, compressedDataBytes('int8', [6, 3])), 'int8', global));
    expect([e.code, e.message]).toEqual(['codec', `update header is ${WEIGHTS_LIMITS.maxHeaderBytes + 1} bytes, the limit is ${WEIGHTS_LIMITS.maxHeaderBytes}`]);
  });

  it('a payload that ends where its header ends (inside the padding, no data) is truncated, not a header overrun', () => {
    const header = `${int8Header} `; // 8 + length not a multiple of 4: the payload ends inside the padding
    expect((8 + header.length) % 4).not.toBe(0);
    const bytes = raw(header, 0, false);
    const e = thrown(() => decodeUpdate(bytes, 'int8', global));
    expect([e.code, e.message]).toEqual(['codec', `update payload is ${bytes.length} bytes, header implies ${((bytes.length + 3) & ~3) + 17} (truncated)`]);
  });

  it('a payload of exactly the prefix has an empty header: not JSON, with the parser’s error as the cause', () => {
    const e = thrown(() => decodeUpdate(raw('', 0), 'int8', global));
    expect([e.code, e.message]).toEqual(['codec', 'update header is not valid UTF-8 JSON']);
    expect(e.cause).toBeInstanceOf(SyntaxError);
  });

  it('a scale of exactly INT8_MAX_SCALE and an int8 of -127 are accepted', () => {
    const bytes = patched(patched(int8(), scaleAt(), (v, at) => v.setFloat32(at, 2 ** 20, true)), scaleAt() + 8 + 1, (v, at) => v.setInt8(at, -127));
    expect(decodeUpdate(bytes, 'int8', global).arrays[0][1]).toBe(Math.fround(2 - 127 * 2 ** 20));
  });

  it('nonzero header padding is refused', () => {
    // A header whose length is not a multiple of 4 has padding; make the first padding byte nonzero.
    let bytes = int8();
    let { dataOffset } = layout(bytes);
    const headerEnd = 8 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
    if (headerEnd === dataOffset) {
      bytes = withHeader(int8(), { encoding: 'int8', specs: manifest, x: 1 });
      if (8 + new DataView(bytes.buffer).getUint32(4, true) === layout(bytes).dataOffset) bytes = withHeader(int8(), { encoding: 'int8', specs: manifest, x: 12 });
      ({ dataOffset } = layout(bytes));
    }
    const padAt = 8 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
    expect(padAt).toBeLessThan(dataOffset);
    expect(decodeUpdate(bytes, 'int8', global).arrays).toHaveLength(2);
    const e = thrown(() => decodeUpdate(patched(bytes, padAt, (v, at) => v.setUint8(at, 1)), 'int8', global));
    expect(e.code).toBe('codec');
    expect(e.message).toContain('padding');
  });

  it('decoded values are global + delta as float32, and the decoder reads the payload at any byte offset', () => {
    const shifted = new Uint8Array(fp16().length + 1);
    shifted.set(fp16(), 1);
    const back = decodeUpdate(shifted.subarray(1), 'fp16', global);
    expect(back.arrays.map((a) => Array.from(a))).toEqual(local.arrays.map((a) => Array.from(a)));
    expect(back.arrays[0]).toBeInstanceOf(Float32Array);
    // float32 updates still decode through the weights codec.
    expect(decodeUpdate(encodeWeights(local), 'float32', global).arrays[1][0]).toBe(decodeWeights(encodeWeights(local)).arrays[1][0]);
  });
});
