import type { RunTerms } from '../messages/run-terms.ts';

/**
 * The run terms the sites of this process accepted, one frozen copy per hash: 10,000 virtual sites of one
 * run share one object instead of holding 10,000 copies. Only terms whose hash was checked against their
 * content (checkRunTerms) may be interned, so equal hashes mean equal terms; the copy is deep-frozen, so no
 * site (nor anything it hands the terms to) can change what another site agreed to. At most INTERNED_LIMIT
 * hashes are kept (the oldest goes first).
 */
const interned = new Map<string, RunTerms>();
export const INTERNED_LIMIT = 16;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}

/** The shared frozen copy of `terms`, whose `hash` was verified against their content. */
export function internRunTerms(hash: string, terms: RunTerms): RunTerms {
  const known = interned.get(hash);
  if (known) return known;
  const frozen = deepFreeze(structuredClone(terms));
  if (interned.size >= INTERNED_LIMIT) interned.delete(interned.keys().next().value!);
  interned.set(hash, frozen);
  return frozen;
}
