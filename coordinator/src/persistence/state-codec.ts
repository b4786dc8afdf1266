import { FedtuneError } from '@fedtune/shared';

/**
 * Serializes a nested value of plain objects, arrays, strings, booleans, numbers, null and typed arrays
 * (strategy state: momentum buffers, optimizer moments, the centered-clipping centre) into JSON plus
 * binary sidecar sections, so that decoding gives the same values bit for bit.
 *
 * Values JSON cannot hold are tagged with the reserved key `$ft`:
 *   typed array      {"$ft": "f32" | "f64" | "i32" | "u32" | "u8", "blob": index into `blobs`}
 *   NaN, ±Infinity   {"$ft": "num", "v": "NaN" | "Infinity" | "-Infinity"}
 *   -0               {"$ft": "num", "v": "-0"}
 *   an object that itself has a `$ft` key is wrapped: {"$ft": "obj", "v": {...}}
 * `undefined` object members are dropped (as JSON does); `undefined` array items become null.
 * Functions, symbols, bigints, Maps, Sets, Dates and class instances other than typed arrays are refused.
 */
const TAG = '$ft';

type TypedKind = 'f32' | 'f64' | 'i32' | 'u32' | 'u8';
type AnyTyped = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

const CTORS: Record<TypedKind, { new (buffer: ArrayBuffer): AnyTyped; BYTES_PER_ELEMENT: number }> = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
};

function kindOf(value: unknown): TypedKind | undefined {
  if (value instanceof Float32Array) return 'f32';
  if (value instanceof Float64Array) return 'f64';
  if (value instanceof Int32Array) return 'i32';
  if (value instanceof Uint32Array) return 'u32';
  // Buffer is a Uint8Array too; it decodes as a plain Uint8Array.
  if (value instanceof Uint8Array) return 'u8';
  return undefined;
}

export interface EncodedState {
  /** The JSON skeleton (a string). */
  json: string;
  /** Raw bytes of every typed array, in the order the skeleton refers to them (views, not copies). */
  blobs: Uint8Array[];
}

export function encodeState(value: unknown): EncodedState {
  const blobs: Uint8Array[] = [];
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): unknown => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return { [TAG]: 'num', v: 'NaN' };
      if (v === Infinity) return { [TAG]: 'num', v: 'Infinity' };
      if (v === -Infinity) return { [TAG]: 'num', v: '-Infinity' };
      if (Object.is(v, -0)) return { [TAG]: 'num', v: '-0' };
      return v;
    }
    if (v === undefined) return null;
    if (typeof v !== 'object') throw new FedtuneError('codec', `state at ${path}: cannot serialize a ${typeof v}`);
    const kind = kindOf(v);
    if (kind) {
      const t = v as AnyTyped;
      blobs.push(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      return { [TAG]: kind, blob: blobs.length - 1 };
    }
    if (ArrayBuffer.isView(v)) throw new FedtuneError('codec', `state at ${path}: unsupported typed array ${v.constructor.name}`);
    if (seen.has(v)) throw new FedtuneError('codec', `state at ${path}: cycles and shared references are not supported`);
    seen.add(v);
    let out: unknown;
    if (Array.isArray(v)) {
      out = v.map((item, i) => walk(item, `${path}[${i}]`));
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new FedtuneError('codec', `state at ${path}: cannot serialize an instance of ${(v as object).constructor?.name ?? 'a class'}`);
      }
      const obj: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        if (item === undefined) continue;
        obj[k] = walk(item, `${path}.${k}`);
      }
      out = Object.hasOwn(obj, TAG) ? { [TAG]: 'obj', v: obj } : obj;
    }
    seen.delete(v);
    return out;
  };
  const skeleton = walk(value, '$');
  return { json: JSON.stringify(skeleton), blobs };
}

/** A path for an error message: keys come from the file, so a long one is cut. */
const shown = (path: string): string => (path.length > 160 ? `${path.slice(0, 160)}…` : path);

/** Decodes what `encodeState` produced. Typed arrays are fresh copies (never views into `blobs`). */
export function decodeState(json: string, blobs: Uint8Array[]): unknown {
  let skeleton: unknown;
  try {
    skeleton = JSON.parse(json);
  } catch (cause) {
    throw new FedtuneError('codec', 'state skeleton is not valid JSON', { cause });
  }
  const walk = (v: unknown, path: string): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((item, i) => walk(item, `${path}[${i}]`));
    const obj = v as Record<string, unknown>;
    if (Object.hasOwn(obj, TAG)) {
      const tag = obj[TAG];
      if (tag === 'num') {
        switch (obj.v) {
          case 'NaN':
            return NaN;
          case 'Infinity':
            return Infinity;
          case '-Infinity':
            return -Infinity;
          case '-0':
            return -0;
          default:
            throw new FedtuneError('codec', `state at ${shown(path)}: unknown number ${String(obj.v).slice(0, 32)}`);
        }
      }
      if (tag === 'obj') {
        const inner = obj.v;
        if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new FedtuneError('codec', `state at ${shown(path)}: a wrapped object holds no object`);
        return Object.fromEntries(Object.entries(inner).map(([k, item]) => [k, walk(item, `${path}.${k}`)]));
      }
      if (typeof tag === 'string' && Object.hasOwn(CTORS, tag)) {
        const index = obj.blob;
        if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= blobs.length) {
          throw new FedtuneError('codec', `state at ${shown(path)}: blob ${String(index).slice(0, 32)} does not exist (${blobs.length} blobs)`);
        }
        const Ctor = CTORS[tag as TypedKind];
        const bytes = blobs[index as number];
        if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) {
          throw new FedtuneError('codec', `state at ${shown(path)}: blob ${index} has ${bytes.byteLength} bytes, not a multiple of ${Ctor.BYTES_PER_ELEMENT}`);
        }
        // Copy into a fresh, aligned buffer (Buffer#slice would share memory, so no slice()).
        const copy = new Uint8Array(bytes.byteLength);
        copy.set(bytes);
        return new Ctor(copy.buffer);
      }
      throw new FedtuneError('codec', `state at ${shown(path)}: unknown tag ${String(tag).slice(0, 32)}`);
    }
    return Object.fromEntries(Object.entries(obj).map(([k, item]) => [k, walk(item, `${path}.${k}`)]));
  };
  return walk(skeleton, '$');
}
