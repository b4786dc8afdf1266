import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { RunTerms } from '../messages/run-terms.ts';

/**
 * Canonical JSON: object keys sorted recursively, no whitespace, `undefined` members left out (as
 * JSON.stringify does). Two objects with the same content give the same text whatever their key order.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/** sha-256 of bytes, as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/** sha-256 of the canonical JSON of a value (a model topology, run terms), hex. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson(value)));
}

/** The hash a coordinator signs and a site accepts: sha-256 of the canonical JSON of the terms. */
export function runTermsHash(terms: RunTerms): string {
  return canonicalHash(terms);
}
