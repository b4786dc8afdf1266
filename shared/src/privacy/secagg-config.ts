/**
 * Checks a secure-aggregation round configuration and derives what both sides compute from it alone: each
 * site's Shamir evaluation point and its neighbourhood. Without `neighbours`, everyone is everyone's neighbour
 * (Bonawitz et al. 2017). With `neighbours: k` (SecAgg+, Bell et al. 2020) the sites are placed on a ring in a
 * public pseudo-random order (SHA-256 of round and id) and each one's neighbourhood is itself and the k/2
 * nearest on each side (a Harary graph), so a site's cost grows with k instead of n.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { FedtuneError } from '../errors.ts';
import type { SecAggConfig } from './secagg-messages.ts';

export interface SecAggTopology {
  /** Sorted site ids. */
  sites: string[];
  /** Shamir evaluation point of each site: its index in `sites` + 1. */
  point: Map<string, number>;
  /** Each site's neighbourhood, itself included (symmetric). */
  neighbourhood: Map<string, Set<string>>;
}

const encoder = new TextEncoder();

export function secAggTopology(config: SecAggConfig): SecAggTopology {
  const sites = [...config.sites].sort();
  const n = sites.length;
  if (n < 2) throw new FedtuneError('config', 'secure aggregation needs at least 2 sites');
  if (new Set(sites).size !== n) throw new FedtuneError('config', 'secure aggregation site ids must be unique');
  if (!(Number.isInteger(config.vectorLength) && config.vectorLength >= 1)) throw new FedtuneError('config', `vector length must be an integer ≥ 1, got ${config.vectorLength}`);
  const k = config.neighbours;
  if (k !== undefined && !(Number.isInteger(k) && k >= 2 && k % 2 === 0)) throw new FedtuneError('config', `neighbours must be an even integer ≥ 2, got ${k}`);
  const size = k === undefined || k >= n - 1 ? n : k + 1;
  const t = config.threshold;
  if (!(Number.isInteger(t) && 2 * t > size && t <= size)) {
    throw new FedtuneError('config', `threshold must be an integer in (${size}/2, ${size}] for neighbourhoods of ${size} sites, got ${t}`);
  }
  const point = new Map(sites.map((s, i) => [s, i + 1]));
  const neighbourhood = new Map<string, Set<string>>();
  if (size === n) {
    for (const s of sites) neighbourhood.set(s, new Set(sites));
  } else {
    const ring = sites
      .map((s) => ({ s, key: bytesToHex(sha256(encoder.encode(`fedtune/secagg/v1/ring/${config.round}/${s}`))) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((e) => e.s);
    ring.forEach((s, pos) => {
      const set = new Set<string>();
      for (let d = -k! / 2; d <= k! / 2; d++) set.add(ring[(pos + d + n) % n]);
      neighbourhood.set(s, set);
    });
  }
  return { sites, point, neighbourhood };
}
