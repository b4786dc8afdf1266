import { FedtuneError } from '../errors.ts';

/**
 * Binary fields on the wire: every message travels with at most one binary attachment.
 *
 * socket.io sends each Uint8Array/ArrayBuffer in a payload as a separate attachment and its parser refuses
 * packets with more than 10 (`maxAttachments`) by closing the connection. Secure-aggregation messages
 * carry two keys per site, or a nonce and a ciphertext per neighbour, so their count grows with the
 * federation (a 6-site share-keys message has 12). `packBinaryFields` moves every binary field of a payload
 * with two or more of them into one buffer, leaving `{ $bin: [offset, length] }` in its place;
 * `unpackBinaryFields` restores them before the schema sees the payload. Payloads with zero or one binary
 * field (hello, fit, fitResult, …) travel unchanged.
 */

/** Largest number of binary attachments one socket.io packet may carry (socket.io-parser's default). */
export const MAX_WIRE_ATTACHMENTS = 10;

/** The key of the packed buffer, at the top level of a packed payload. */
export const PACKED_BLOB_KEY = '$blob';
/** The key of a placeholder for one binary field: `{ $bin: [offset, length] }`. */
export const BINARY_REF_KEY = '$bin';

/** Deepest nesting walked when packing or unpacking (schemas are at most a few levels deep). */
const MAX_DEPTH = 32;
/** Most binary fields one packed payload may reference. */
const MAX_REFS = 1_000_000;
/** Segments start at multiples of 8 bytes, so a float32/float64 view of a field needs no copy. */
const ALIGN = 8;

const isBinary = (v: unknown): v is Uint8Array | ArrayBuffer => v instanceof Uint8Array || v instanceof ArrayBuffer;

const asBytes = (v: Uint8Array | ArrayBuffer): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(v));

/** Number of binary values in a payload, as socket.io would count its attachments. */
export function countBinaryFields(payload: unknown, depth = 0): number {
  if (isBinary(payload)) return 1;
  if (payload === null || typeof payload !== 'object' || depth > MAX_DEPTH) return 0;
  let n = 0;
  for (const v of Array.isArray(payload) ? payload : Object.values(payload)) n += countBinaryFields(v, depth + 1);
  return n;
}

/** Returns the payload with all binary fields in one buffer when it has two or more; otherwise the payload itself. */
export function packBinaryFields(payload: unknown): unknown {
  // Two or more binary fields make the payload an object or an array; only an object is packed.
  if (countBinaryFields(payload) < 2 || Array.isArray(payload)) return payload;
  const segments: Uint8Array[] = [];
  let size = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (isBinary(v)) {
      const bytes = asBytes(v);
      const offset = size;
      segments.push(bytes);
      size += Math.ceil(bytes.byteLength / ALIGN) * ALIGN;
      return { [BINARY_REF_KEY]: [offset, bytes.byteLength] };
    }
    if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) defineField(out, k, walk(x, depth + 1));
    return out;
  };
  const packed = walk(payload, 0) as Record<string, unknown>;
  const blob = new Uint8Array(size);
  let at = 0;
  for (const s of segments) {
    blob.set(s, at);
    at += Math.ceil(s.byteLength / ALIGN) * ALIGN;
  }
  packed[PACKED_BLOB_KEY] = blob;
  return packed;
}

/** Sets own property `k` even when it is "__proto__" (plain assignment would change the prototype). */
function defineField(target: Record<string, unknown>, k: string, value: unknown): void {
  Object.defineProperty(target, k, { value, enumerable: true, writable: true, configurable: true });
}

function isRef(v: object): v is { [BINARY_REF_KEY]: unknown } {
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === BINARY_REF_KEY;
}

/**
 * Restores a payload packed by `packBinaryFields`; any other payload is returned as it is. A packed payload
 * from a peer is hostile until checked: every reference must lie inside the buffer, or the whole message
 * is refused (FedtuneError 'malformed_payload'). Each restored field is a view of the attachment, never a copy
 * (as a Node Buffer's slice always was): a message of many references to one large range costs no memory, and a
 * consumer that changes a field in place copies it first (nothing does).
 */
export function unpackBinaryFields(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !Object.hasOwn(raw, PACKED_BLOB_KEY)) return raw;
  const { [PACKED_BLOB_KEY]: blobValue, ...rest } = raw as Record<string, unknown>;
  if (!isBinary(blobValue)) throw new FedtuneError('malformed_payload', `packed payload: ${PACKED_BLOB_KEY} must be binary`);
  const blob = asBytes(blobValue);
  let refs = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (depth > MAX_DEPTH) throw new FedtuneError('malformed_payload', `packed payload nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (isBinary(v)) return v;
    if (isRef(v)) {
      const ref = v[BINARY_REF_KEY];
      if (++refs > MAX_REFS) throw new FedtuneError('malformed_payload', 'packed payload has too many binary fields');
      if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((x) => Number.isSafeInteger(x) && x >= 0)) {
        throw new FedtuneError('malformed_payload', `packed payload: ${BINARY_REF_KEY} must be [offset, length] of non-negative integers`);
      }
      const [offset, length] = ref as [number, number];
      if (offset + length > blob.byteLength) {
        throw new FedtuneError('malformed_payload', `packed payload: binary field [${offset}, ${length}] lies outside the ${blob.byteLength}-byte buffer`);
      }
      return blob.subarray(offset, offset + length);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) defineField(out, k, walk(x, depth + 1));
    return out;
  };
  return walk(rest, 0);
}
