import { FedtuneError } from '../errors.ts';
import { SeededRandom } from '../random/seeded-random.ts';

export type PartitionSpec = { kind: 'iid' } | { kind: 'dirichlet'; alpha: number };

/** Parses `iid` or `dirichlet:ALPHA`. */
export function parsePartitionSpec(text: string): PartitionSpec {
  if (text === 'iid') return { kind: 'iid' };
  const m = /^dirichlet:([0-9.]+)$/.exec(text);
  if (m) {
    const alpha = Number(m[1]);
    if (!(alpha > 0)) throw new FedtuneError('config', `dirichlet alpha must be > 0, got "${m[1]}"`);
    return { kind: 'dirichlet', alpha };
  }
  throw new FedtuneError('config', `unknown partition "${text}" (use iid or dirichlet:ALPHA)`);
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
