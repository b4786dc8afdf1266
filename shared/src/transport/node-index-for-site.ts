import { FedtuneError } from '../errors.ts';

/**
 * The node of a cluster's list (0 … nodes − 1) a site tries first: FNV-1a of its site id modulo the number of
 * nodes. Stable (the same site goes back to the same node after a restart) and spread evenly over a
 * population of site ids, with no coordination between sites.
 */
export function nodeIndexForSite(siteId: string, nodes: number): number {
  if (!Number.isSafeInteger(nodes) || nodes < 1) throw new FedtuneError('config', `the number of coordinator nodes must be a whole number ≥ 1, got ${nodes}`);
  let h = 0x811c9dc5;
  for (let i = 0; i < siteId.length; i++) {
    h ^= siteId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % nodes;
}
