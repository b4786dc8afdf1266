import { FedtuneError } from '../errors.ts';
import { specSize, type Weights, type WeightsManifest } from '../weights.ts';

/**
 * Binary format for weights (little-endian):
 *   magic "FTW1" | u32 header byte length | UTF-8 JSON header {specs} | zero padding to 4 bytes | float32 data
 * The data section holds every tensor back to back in manifest order. No JSON number arrays.
 */
const MAGIC = 0x31575446; // "FTW1" read as little-endian u32
const PREFIX_BYTES = 8;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new FedtuneError('codec', 'fedtune requires a little-endian platform');
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
      throw new FedtuneError('shape_mismatch', `tensor ${manifest[i].name}: expected ${expected} values, got ${arrays[i].length}`);
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

function parseManifest(value: unknown): WeightsManifest {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { specs?: unknown }).specs)) {
    throw new FedtuneError('codec', 'weights header has no specs list');
  }
  const specs = (value as { specs: unknown[] }).specs;
  return specs.map((s, i) => {
    const spec = s as { name?: unknown; shape?: unknown; dtype?: unknown };
    if (typeof spec.name !== 'string') throw new FedtuneError('codec', `spec ${i}: name must be a string`);
    if (spec.dtype !== 'float32') throw new FedtuneError('dtype_mismatch', `spec ${spec.name}: dtype ${String(spec.dtype)} is not float32`);
    if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new FedtuneError('codec', `spec ${spec.name}: shape must be a list of non-negative integers`);
    }
    return { name: spec.name, shape: spec.shape as number[], dtype: 'float32' as const };
  });
}

/**
 * Decodes bytes produced by `encodeWeights`. Accepts views at any byte offset.
 * When the data section is 4-byte aligned the returned arrays are views into `bytes` (no copy);
 * otherwise the data is copied once into an aligned buffer. Callers that keep the result must not
 * mutate `bytes` afterwards.
 */
export function decodeWeights(bytes: Uint8Array): Weights {
  if (!(bytes instanceof Uint8Array)) throw new FedtuneError('codec', 'weights payload must be bytes');
  if (bytes.byteLength < PREFIX_BYTES) throw new FedtuneError('codec', `weights payload too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new FedtuneError('codec', 'weights payload has a bad magic number');
  const headerLength = view.getUint32(4, true);
  if (PREFIX_BYTES + headerLength > bytes.byteLength) throw new FedtuneError('codec', 'weights header runs past the payload');
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (cause) {
    throw new FedtuneError('codec', 'weights header is not valid JSON', { cause });
  }
  const manifest = parseManifest(header);
  const dataOffset = align4(PREFIX_BYTES + headerLength);
  const floats = manifest.reduce((n, s) => n + specSize(s), 0);
  if (bytes.byteLength !== dataOffset + floats * 4) {
    throw new FedtuneError('codec', `weights payload is ${bytes.byteLength} bytes, header implies ${dataOffset + floats * 4}`);
  }
  let buffer: ArrayBufferLike;
  let base: number;
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

/** Checks that `weights` has exactly the shapes and dtypes of `manifest` (names may differ between model instances). */
export function assertSameLayout(manifest: WeightsManifest, weights: Weights, what = 'update'): void {
  if (weights.manifest.length !== manifest.length) {
    throw new FedtuneError('shape_mismatch', `${what} has ${weights.manifest.length} tensors, the global model has ${manifest.length}`);
  }
  for (let i = 0; i < manifest.length; i++) {
    const a = manifest[i];
    const b = weights.manifest[i];
    if (b.dtype !== a.dtype) throw new FedtuneError('dtype_mismatch', `${what} tensor ${i} (${a.name}) is ${b.dtype}, expected ${a.dtype}`);
    if (a.shape.length !== b.shape.length || a.shape.some((d, j) => d !== b.shape[j])) {
      throw new FedtuneError('shape_mismatch', `${what} tensor ${i} (${a.name}) has shape [${b.shape}], expected [${a.shape}]`);
    }
  }
}
