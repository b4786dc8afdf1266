import { FedtuneError } from '../errors.ts';
import { SeededRandom } from '../random/seeded-random.ts';

/**
 * How examples are split among sites:
 *   iid            — a seeded shuffle dealt round-robin;
 *   dirichlet:α    — per class, site shares drawn from Dir(α) (Hsu et al. 2019); small α → few classes per site;
 *   shards:k       — pathological non-IID (McMahan et al. 2017): sorted by label, cut into sites·k shards, k per site;
 *   quantity:α     — quantity skew: labels IID, site sizes drawn from a power law with exponent α.
 */
export type PartitionSpec =
  | { kind: 'iid' }
  | { kind: 'dirichlet'; alpha: number }
  | { kind: 'shards'; k: number }
  | { kind: 'quantity'; alpha: number };

/** Every partition kind, as written on the command line: what help and errors list. */
const PARTITION_SPELLINGS: Readonly<Record<PartitionSpec['kind'], string>> = Object.freeze({ iid: 'iid', dirichlet: 'dirichlet:ALPHA', shards: 'shards:K', quantity: 'quantity:ALPHA' });

/** The command-line spellings of every partition kind: `iid`, `dirichlet:ALPHA`, `shards:K`, `quantity:ALPHA`. */
export function partitionKinds(): string[] {
  return Object.values(PARTITION_SPELLINGS);
}

/** Parses `iid`, `dirichlet:ALPHA`, `shards:K` or `quantity:ALPHA`. */
export function parsePartitionSpec(text: string): PartitionSpec {
  if (text === 'iid') return { kind: 'iid' };
  const m = /^(dirichlet|shards|quantity):(.{1,64})$/.exec(text);
  if (m) {
    const value = /^[0-9.eE+-]+$/.test(m[2]) ? Number(m[2]) : NaN;
    if (m[1] === 'shards') {
      if (!Number.isInteger(value) || value < 1) throw new FedtuneError('config', `shards:K needs an integer K ≥ 1, got "${m[2]}"`);
      return { kind: 'shards', k: value };
    }
    if (!(value > 0)) throw new FedtuneError('config', `${m[1]} alpha must be > 0, got "${m[2]}"`);
    return m[1] === 'dirichlet' ? { kind: 'dirichlet', alpha: value } : { kind: 'quantity', alpha: value };
  }
  throw new FedtuneError('config', `unknown partition "${text.slice(0, 64)}" (use ${partitionKinds().join(', ')})`);
}

/**
 * Splits example indices among sites. IID deals a seeded shuffle round-robin; Dirichlet draws, per class,
 * the share of each site from Dir(α) (small α → each site sees few classes). Every site gets at least
 * `minPerSite` examples (moved from the largest site if needed).
 */
export function partitionIndices(labels: ArrayLike<number>, numClasses: number, sites: number, spec: PartitionSpec, seed: number, minPerSite = 10): number[][] {
  if (!Number.isInteger(sites) || sites < 1) throw new FedtuneError('config', `number of sites must be a positive integer, got ${sites}`);
  if (labels.length < sites * minPerSite) throw new FedtuneError('config', `${labels.length} examples are too few for ${sites} sites`);
  const rng = new SeededRandom(seed);
  const parts: number[][] = Array.from({ length: sites }, () => []);
  if (spec.kind === 'iid') {
    const order = rng.shuffle(Array.from({ length: labels.length }, (_, i) => i));
    order.forEach((idx, k) => parts[k % sites].push(idx));
  } else if (spec.kind === 'shards') {
    const byLabel = rng.shuffle(Array.from({ length: labels.length }, (_, i) => i)).sort((a, b) => labels[a] - labels[b]);
    const count = sites * spec.k;
    const shardOrder = rng.shuffle(Array.from({ length: count }, (_, i) => i));
    for (let s = 0; s < count; s++) {
      const shard = shardOrder[s];
      const start = Math.round((shard * byLabel.length) / count);
      const end = Math.round(((shard + 1) * byLabel.length) / count);
      parts[s % sites].push(...byLabel.slice(start, end));
    }
  } else if (spec.kind === 'quantity') {
    // Pareto draws x = (1 − u)^(−1/α): a heavy tail of large sites for small α.
    const draws = Array.from({ length: sites }, () => Math.pow(1 - rng.next(), -1 / spec.alpha));
    const total = draws.reduce((a, b) => a + b, 0);
    const order = rng.shuffle(Array.from({ length: labels.length }, (_, i) => i));
    let start = 0;
    let acc = 0;
    for (let s = 0; s < sites; s++) {
      acc += draws[s] / total;
      const end = s === sites - 1 ? order.length : Math.round(acc * order.length);
      parts[s].push(...order.slice(start, end));
      start = end;
    }
  } else {
    const byClass: number[][] = Array.from({ length: numClasses }, () => []);
    for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
    for (const idxs of byClass) {
      rng.shuffle(idxs);
      const g = Array.from({ length: sites }, () => rng.gamma(spec.alpha));
      const total = g.reduce((a, b) => a + b, 0) || 1;
      let start = 0;
      let acc = 0;
      for (let s = 0; s < sites; s++) {
        acc += g[s] / total;
        const end = s === sites - 1 ? idxs.length : Math.round(acc * idxs.length);
        parts[s].push(...idxs.slice(start, end));
        start = end;
      }
    }
  }
  for (const part of parts) {
    while (part.length < minPerSite) {
      const donor = parts.reduce((a, b) => (b.length > a.length ? b : a));
      part.push(donor.pop()!);
    }
  }
  return parts.map((p) => p.sort((a, b) => a - b));
}
