import { canonicalJson } from '../audit/canonical-json.ts';
import { sha256Hex } from '../audit/sha256-hex.ts';
import type { RunTerms } from '../messages/run-terms.ts';

/** sha-256 of the canonical JSON of a value (a model topology, run terms), hex. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson(value)));
}

/** The hash a coordinator signs and a site accepts: sha-256 of the canonical JSON of the terms. */
export function runTermsHash(terms: RunTerms): string {
  return canonicalHash(terms);
}
