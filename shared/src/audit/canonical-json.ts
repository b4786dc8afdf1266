import { FedtuneError } from '../errors.ts';

/**
 * JSON with object keys sorted (recursively) and no whitespace: the same value always gives the same text,
 * whatever order its keys were built in, so its hash can be recomputed by anyone from the parsed value.
 * Keys whose value is undefined are left out (as JSON.stringify does); a non-finite number is refused (it
 * has no JSON form that would read back as itself).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FedtuneError('non_finite', `canonical JSON has no form for ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as Record<string, unknown>).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new FedtuneError('malformed_payload', `canonical JSON has no form for a ${typeof value}`);
}
