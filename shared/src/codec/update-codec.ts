import { z } from 'zod';
import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import { specSize, WEIGHTS_LIMITS, type WeightArrays, type Weights } from '../weights.ts';
import { FLOAT16_EXPONENT_MASK, float16Bits, float16Value } from './float16.ts';
import { INT8_LEVELS, INT8_MAX_SCALE, quantizeInt8 } from './int8-quantization.ts';
import { decodeWeights, encodeWeights, parseManifest } from './weights-codec.ts';

/**
 * How a site's update travels (run config `updateEncoding`, sent in every fit's config, docs/performance.md):
 * 'float32' the fine-tuned weights as today (weights codec, "FTW1"); 'fp16' and 'int8' the DELTA from the
 * global weights the site trained from, compressed (deltas are small and centred, so they quantize far
 * better than the weights). The coordinator decodes once, adds the global weights back, and every strategy,
 * guard and DP path sees float32 weights.
 */
export const UpdateEncoding = z.enum(['float32', 'fp16', 'int8']);
export type UpdateEncoding = z.output<typeof UpdateEncoding>;

/**
 * Compressed-update format (little-endian):
 *   magic "FTU1" | u32 header byte length | UTF-8 JSON header {encoding, specs} | zero padding to 4 bytes | data
 * fp16: every tensor's values as IEEE half bits (u16), back to back in manifest order.
 * int8: one float32 scale per tensor, then every tensor's int8 values back to back.
 */
const MAGIC = 0x31555446; // "FTU1" read as little-endian u32
const WEIGHTS_MAGIC = 0x31575446; // "FTW1": a float32 update
const PREFIX_BYTES = 8;

const encoder = new TextEncoder();
// Stryker disable next-line StringLiteral: a static mutant (module load, before a mutant is switched on); another label throws RangeError there, the fatal flag is tested.
const decoder = new TextDecoder('utf-8', { fatal: true });

const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes of the data section of a compressed update of these tensor sizes. */
export function compressedDataBytes(encoding: 'fp16' | 'int8', sizes: readonly number[]): number {
  const values = sizes.reduce((n, s) => n + s, 0);
  return encoding === 'fp16' ? values * 2 : sizes.length * 4 + values;
}

/** The encoding an absent `updateEncoding` means. */
export function updateEncodingOf(config: { updateEncoding?: UpdateEncoding }): UpdateEncoding {
  return config.updateEncoding ?? 'float32';
}

/**
 * A site's update as it travels. float32: `local` with the weights codec. fp16/int8: the delta local − global,
 * compressed; int8's stochastic rounding draws from `seed` (the fit's derived seed), so the same fit encodes
 * the same bytes. Throws 'non_finite' for a delta an encoding cannot carry (NaN, infinity, |δ| ≥ 65520 in
 * fp16, an int8 scale above INT8_MAX_SCALE), 'shape_mismatch' when local and global differ in layout.
 */
export function encodeUpdate(local: Weights, global: WeightArrays, encoding: UpdateEncoding, seed: number): Uint8Array {
  if (encoding === 'float32') return encodeWeights(local);
  const { manifest, arrays } = local;
  if (arrays.length !== manifest.length || global.length !== manifest.length) {
    throw new FedtuneError('shape_mismatch', `the update has ${arrays.length} arrays and the global model ${global.length} for ${manifest.length} tensors`);
  }
  const sizes = manifest.map(specSize);
  for (let t = 0; t < manifest.length; t++) {
    if (arrays[t].length !== sizes[t] || global[t].length !== sizes[t]) {
      throw new FedtuneError('shape_mismatch', `tensor ${quoteClipped(manifest[t].name)}: expected ${sizes[t]} values in the update and the global model`);
    }
  }
  const header = encoder.encode(JSON.stringify({ encoding, specs: manifest }));
  const dataOffset = align4(PREFIX_BYTES + header.length);
  const out = new Uint8Array(dataOffset + compressedDataBytes(encoding, sizes));
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.length, true);
  out.set(header, PREFIX_BYTES);
  const delta = (t: number): Float32Array => {
    const d = new Float32Array(sizes[t]);
    // Stryker disable next-line EqualityOperator: equivalent: a write past a typed array's end is ignored.
    for (let i = 0; i < d.length; i++) d[i] = arrays[t][i] - global[t][i];
    return d;
  };
  if (encoding === 'fp16') {
    let at = dataOffset;
    // Stryker disable next-line EqualityOperator: equivalent: one tensor past the end has no size, so no values.
    for (let t = 0; t < manifest.length; t++) {
      const d = delta(t);
      for (let i = 0; i < d.length; i++) {
        const h = float16Bits(d[i]);
        if ((h & FLOAT16_EXPONENT_MASK) === FLOAT16_EXPONENT_MASK) {
          throw new FedtuneError('non_finite', `tensor ${quoteClipped(manifest[t].name)}: delta ${d[i]} at index ${i} does not fit in fp16 (largest 65504)`);
        }
        view.setUint16(at, h, true);
        at += 2;
      }
    }
    return out;
  }
  const random = new SeededRandom(deriveSeed(seed, 'update-encoding'));
  let at = dataOffset + manifest.length * 4;
  for (let t = 0; t < manifest.length; t++) {
    const q = quantizeInt8(delta(t), random);
    view.setFloat32(dataOffset + t * 4, q.scale, true);
    out.set(new Uint8Array(q.values.buffer), at);
    at += q.values.length;
  }
  return out;
}

function parseHeader(bytes: Uint8Array, view: DataView): { encoding: unknown; specs: Weights['manifest']; dataOffset: number } {
  const headerLength = view.getUint32(4, true);
  if (headerLength > WEIGHTS_LIMITS.maxHeaderBytes) throw new FedtuneError('codec', `update header is ${headerLength} bytes, the limit is ${WEIGHTS_LIMITS.maxHeaderBytes}`);
  if (PREFIX_BYTES + headerLength > bytes.byteLength) throw new FedtuneError('codec', 'update header runs past the payload');
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (cause) {
    throw new FedtuneError('codec', 'update header is not valid UTF-8 JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new FedtuneError('codec', 'update header is not an object');
  const dataOffset = align4(PREFIX_BYTES + headerLength);
  for (let i = PREFIX_BYTES + headerLength; i < dataOffset && i < bytes.byteLength; i++) {
    if (bytes[i] !== 0) throw new FedtuneError('codec', 'update header padding is not zero');
  }
  return { encoding: (header as { encoding?: unknown }).encoding, specs: parseManifest(header), dataOffset };
}

/**
 * The weights of a site's update, decoded once at the coordinator: float32 weights whatever the encoding
 * (global + decoded delta for fp16/int8). Hostile input is refused with a typed error of bounded length:
 * 'update_encoding' when the payload is not in the run's encoding (a float32 update in an int8 run or the
 * reverse, or a header naming another encoding), 'codec' for anything malformed (lengths, header, an int8
 * value of −128), 'non_finite' for an fp16 infinity/NaN or an int8 scale that is not finite, negative or
 * above INT8_MAX_SCALE. Shapes are checked against the run's manifest by the caller (assertSameLayout).
 */
export function decodeUpdate(bytes: Uint8Array, encoding: UpdateEncoding, global: WeightArrays | undefined): Weights {
  if (!(bytes instanceof Uint8Array)) throw new FedtuneError('codec', 'update payload must be bytes');
  if (bytes.byteLength < PREFIX_BYTES) throw new FedtuneError('codec', `update payload too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (encoding === 'float32') {
    if (magic === MAGIC) throw new FedtuneError('update_encoding', 'this run takes float32 updates: a compressed update is refused');
    return decodeWeights(bytes);
  }
  if (magic === WEIGHTS_MAGIC) throw new FedtuneError('update_encoding', `this run takes ${encoding} updates: a float32 update is refused`);
  if (magic !== MAGIC) throw new FedtuneError('codec', 'update payload has a bad magic number');
  const { encoding: tagged, specs, dataOffset } = parseHeader(bytes, view);
  if (tagged !== encoding) {
    const known = UpdateEncoding.safeParse(tagged).success;
    throw new FedtuneError(known ? 'update_encoding' : 'codec', `update is encoded as ${quoteClipped(tagged, 24)}, this run takes ${encoding}`);
  }
  if (!global || global.length !== specs.length) throw new FedtuneError('shape_mismatch', `update has ${specs.length} tensors, the global model has ${global?.length ?? 0}`);
  const sizes = specs.map(specSize);
  for (let t = 0; t < sizes.length; t++) {
    if (global[t].length !== sizes[t]) throw new FedtuneError('shape_mismatch', `update tensor ${t} (${quoteClipped(specs[t].name)}) has ${sizes[t]} values, the global model ${global[t].length}`);
  }
  const implied = dataOffset + compressedDataBytes(encoding, sizes);
  if (bytes.byteLength !== implied) {
    // Stryker disable next-line EqualityOperator: equivalent: the lengths differ here, so < and <= agree.
    throw new FedtuneError('codec', `update payload is ${bytes.byteLength} bytes, header implies ${implied} (${bytes.byteLength < implied ? 'truncated' : 'trailing bytes'})`);
  }
  const arrays: Float32Array[] = [];
  if (encoding === 'fp16') {
    let at = dataOffset;
    for (let t = 0; t < sizes.length; t++) {
      const g = global[t];
      const out = new Float32Array(sizes[t]);
      for (let i = 0; i < out.length; i++) {
        const h = view.getUint16(at, true);
        at += 2;
        if ((h & FLOAT16_EXPONENT_MASK) === FLOAT16_EXPONENT_MASK) {
          throw new FedtuneError('non_finite', `update tensor ${quoteClipped(specs[t].name)} has a non-finite fp16 value at index ${i}`);
        }
        out[i] = g[i] + float16Value(h);
      }
      arrays.push(out);
    }
    return { manifest: specs, arrays };
  }
  let at = dataOffset + sizes.length * 4;
  for (let t = 0; t < sizes.length; t++) {
    const scale = view.getFloat32(dataOffset + t * 4, true);
    if (!(scale >= 0 && scale <= INT8_MAX_SCALE)) {
      throw new FedtuneError('non_finite', `update tensor ${quoteClipped(specs[t].name)} has int8 scale ${scale}, expected a finite value in 0..${INT8_MAX_SCALE}`);
    }
    const g = global[t];
    const out = new Float32Array(sizes[t]);
    for (let i = 0; i < out.length; i++) {
      const q = view.getInt8(at);
      at += 1;
      if (q < -INT8_LEVELS) throw new FedtuneError('codec', `update tensor ${quoteClipped(specs[t].name)} has int8 value ${q} at index ${i}, outside ±${INT8_LEVELS}`);
      out[i] = g[i] + q * scale;
    }
    arrays.push(out);
  }
  return { manifest: specs, arrays };
}
