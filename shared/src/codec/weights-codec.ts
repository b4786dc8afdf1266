import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { specSize, WEIGHTS_LIMITS, type Weights, type WeightSpec, type WeightsManifest } from '../weights.ts';

/**
 * Binary format for weights (little-endian):
 *   magic "FTW1" | u32 header byte length | UTF-8 JSON header {specs} | zero padding to 4 bytes | float32 data
 * The data section holds every tensor back to back in manifest order. No JSON number arrays.
 * The last magic byte is the format version ("1").
 */
const MAGIC = 0x31575446; // "FTW1" read as little-endian u32
const MAGIC_WITHOUT_VERSION = 0x00575446; // "FTW" in the low three bytes
const PREFIX_BYTES = 8;

// Stryker disable next-line all: equivalent here: a module-load guard (a static mutant, never re-evaluated per test) that only a big-endian platform reaches.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Stryker disable next-line all: unreachable on a little-endian platform (see above).
  throw new FedtuneError('codec', 'fedtune requires a little-endian platform');
}

const encoder = new TextEncoder();
/** `fatal`: a header that is not valid UTF-8 is refused, not decoded with replacement characters. */
// Stryker disable next-line StringLiteral: equivalent: a module-load constant (a static mutant: the label "" would throw at load, which no per-test run re-evaluates); the fatal flag is tested (a non-UTF-8 header is refused).
const decoder = new TextDecoder('utf-8', { fatal: true });

function align4(n: number): number {
  return (n + 3) & ~3;
}

export function encodeWeights(weights: Weights): Uint8Array {
  const { manifest, arrays } = weights;
  if (manifest.length !== arrays.length) {
    throw new FedtuneError('shape_mismatch', `manifest has ${manifest.length} tensors but ${arrays.length} arrays were given`);
  }
  let floats = 0;
  for (let i = 0; i < manifest.length; i++) {
    const expected = specSize(manifest[i]);
    if (arrays[i].length !== expected) {
      throw new FedtuneError('shape_mismatch', `tensor ${quoteClipped(manifest[i].name)}: expected ${expected} values, got ${arrays[i].length}`);
    }
    floats += expected;
  }
  const header = encoder.encode(JSON.stringify({ specs: manifest }));
  const dataOffset = align4(PREFIX_BYTES + header.length);
  // Allocated as a Float32Array (V8 allocates and zeroes these faster than a large Uint8Array), viewed as bytes.
  const out = new Uint8Array(new Float32Array(dataOffset / 4 + floats).buffer);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.length, true);
  out.set(header, PREFIX_BYTES);
  const data = new Float32Array(out.buffer, dataOffset, floats);
  let pos = 0;
  for (const a of arrays) {
    data.set(a, pos);
    pos += a.length;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseSpec(value: unknown, i: number): WeightSpec {
  if (!isRecord(value)) throw new FedtuneError('codec', `spec ${i} is not an object`);
  const { name, shape, dtype } = value;
  if (typeof name !== 'string') throw new FedtuneError('codec', `spec ${i}: name must be a string`);
  if (name.length > WEIGHTS_LIMITS.maxNameLength) {
    throw new FedtuneError('codec', `spec ${i}: name is ${name.length} characters, the limit is ${WEIGHTS_LIMITS.maxNameLength}`);
  }
  if (dtype !== 'float32') throw new FedtuneError('dtype_mismatch', `spec ${i} (${quoteClipped(name)}): dtype ${quoteClipped(dtype)} is not float32`);
  if (!Array.isArray(shape) || shape.length > WEIGHTS_LIMITS.maxRank) {
    throw new FedtuneError('codec', `spec ${i} (${quoteClipped(name)}): shape must be a list of at most ${WEIGHTS_LIMITS.maxRank} dimensions`);
  }
  const dims = shape.map((d: unknown) => {
    // Stryker disable next-line ConditionalExpression: equivalent: without the typeof test a non-number still fails Number.isInteger, with the same refusal.
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > WEIGHTS_LIMITS.maxDim) {
      throw new FedtuneError('codec', `spec ${i} (${quoteClipped(name)}): dimension ${quoteClipped(d, 24)} is not an integer in 0..${WEIGHTS_LIMITS.maxDim}`);
    }
    return d + 0; // -0 → 0
  });
  return { name, shape: dims, dtype: 'float32' };
}

export function parseManifest(value: unknown): WeightsManifest {
  if (!isRecord(value) || !Array.isArray(value.specs)) throw new FedtuneError('codec', 'weights header has no specs list');
  const specs = value.specs;
  if (specs.length > WEIGHTS_LIMITS.maxTensors) {
    throw new FedtuneError('codec', `weights header lists ${specs.length} tensors, the limit is ${WEIGHTS_LIMITS.maxTensors}`);
  }
  return specs.map(parseSpec);
}

/**
 * Decodes bytes produced by `encodeWeights`. Accepts views at any byte offset.
 * When the data section is 4-byte aligned the returned arrays are views into `bytes` (no copy);
 * otherwise the data is copied once into an aligned buffer. Callers that keep the result must not
 * mutate `bytes` afterwards. Anything malformed throws FedtuneError('codec') (a dtype other than float32:
 * 'dtype_mismatch') with a message of bounded length.
 */
export function decodeWeights(bytes: Uint8Array): Weights {
  if (!(bytes instanceof Uint8Array)) throw new FedtuneError('codec', 'weights payload must be bytes');
  if (bytes.byteLength < PREFIX_BYTES) throw new FedtuneError('codec', `weights payload too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC) {
    if ((magic & 0x00ffffff) === MAGIC_WITHOUT_VERSION) {
      throw new FedtuneError('codec', `weights format version ${quoteClipped(String.fromCharCode(magic >>> 24))} is not supported (expected "1")`);
    }
    throw new FedtuneError('codec', 'weights payload has a bad magic number');
  }
  const headerLength = view.getUint32(4, true);
  if (headerLength > WEIGHTS_LIMITS.maxHeaderBytes) {
    throw new FedtuneError('codec', `weights header is ${headerLength} bytes, the limit is ${WEIGHTS_LIMITS.maxHeaderBytes}`);
  }
  if (PREFIX_BYTES + headerLength > bytes.byteLength) throw new FedtuneError('codec', 'weights header runs past the payload');
  let text: string;
  try {
    text = decoder.decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
  } catch (cause) {
    throw new FedtuneError('codec', 'weights header is not valid UTF-8', { cause });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (cause) {
    throw new FedtuneError('codec', 'weights header is not valid JSON', { cause });
  }
  const manifest = parseManifest(header);
  const dataOffset = align4(PREFIX_BYTES + headerLength);
  for (let i = PREFIX_BYTES + headerLength; i < dataOffset && i < bytes.byteLength; i++) {
    if (bytes[i] !== 0) throw new FedtuneError('codec', 'weights header padding is not zero');
  }
  // Bounded dimensions and tensor count keep every size finite; a sum past 2^53 may be inexact, but such a
  // sum can never equal the length of a real payload, and it is only reported as too large.
  const floats = manifest.reduce((n, s) => n + specSize(s), 0);
  const implied = dataOffset + floats * 4;
  if (bytes.byteLength !== implied) {
    const shown = Number.isSafeInteger(implied) ? String(implied) : 'more than 2^53';
    // Stryker disable next-line EqualityOperator: equivalent: the lengths differ here, so < and <= agree.
    const what = bytes.byteLength < implied ? 'truncated' : 'trailing bytes';
    throw new FedtuneError('codec', `weights payload is ${bytes.byteLength} bytes, header implies ${shown} (${what})`);
  }
  let buffer: ArrayBufferLike;
  let base: number;
  // Stryker disable next-line ArithmeticOperator: equivalent: dataOffset is a multiple of 4, so (offset − dataOffset) % 4 is 0 exactly when (offset + dataOffset) % 4 is (−0 === 0).
  if ((bytes.byteOffset + dataOffset) % 4 === 0) {
    buffer = bytes.buffer;
    base = bytes.byteOffset + dataOffset;
  } else {
    const aligned = new Float32Array(floats);
    new Uint8Array(aligned.buffer).set(bytes.subarray(dataOffset));
    buffer = aligned.buffer;
    base = 0;
  }
  const arrays: Float32Array[] = [];
  let pos = base;
  for (const spec of manifest) {
    const n = specSize(spec);
    arrays.push(new Float32Array(buffer as ArrayBuffer, pos, n));
    pos += n * 4;
  }
  return { manifest, arrays };
}

/**
 * Checks that `weights` has exactly the layout of `manifest`: the same number of tensors and, tensor by
 * tensor, the same name, dtype and shape (every dimension, in order: [2,3] is not [3,2]), with one array of
 * the right length per tensor. Names are compared too: a site builds its model from the topology the
 * coordinator sends, so an honest site's names are the coordinator's.
 */
export function assertSameLayout(manifest: WeightsManifest, weights: Weights, what = 'update'): void {
  if (weights.manifest.length !== manifest.length) {
    throw new FedtuneError('shape_mismatch', `${what} has ${weights.manifest.length} tensors, the global model has ${manifest.length}`);
  }
  if (weights.arrays.length !== manifest.length) {
    throw new FedtuneError('shape_mismatch', `${what} has ${weights.arrays.length} arrays, the global model has ${manifest.length} tensors`);
  }
  for (let i = 0; i < manifest.length; i++) {
    const a = manifest[i];
    const b = weights.manifest[i];
    if (b.name !== a.name) throw new FedtuneError('shape_mismatch', `${what} tensor ${i} is named ${quoteClipped(b.name)}, expected ${quoteClipped(a.name)}`);
    if (b.dtype !== a.dtype) throw new FedtuneError('dtype_mismatch', `${what} tensor ${i} (${quoteClipped(a.name)}) is ${quoteClipped(b.dtype)}, expected ${a.dtype}`);
    if (a.shape.length !== b.shape.length || a.shape.some((d, j) => d !== b.shape[j])) {
      const shown = b.shape.length > WEIGHTS_LIMITS.maxRank ? `${b.shape.length} dimensions` : `[${b.shape.join(',')}]`;
      throw new FedtuneError('shape_mismatch', `${what} tensor ${i} (${quoteClipped(a.name)}) has shape ${shown}, expected [${a.shape.join(',')}]`);
    }
    if (weights.arrays[i].length !== specSize(a)) {
      throw new FedtuneError('shape_mismatch', `${what} tensor ${i} (${quoteClipped(a.name)}) has ${weights.arrays[i].length} values, expected ${specSize(a)}`);
    }
  }
}
