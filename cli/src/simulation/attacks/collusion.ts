import type { WeightArrays } from '@fedtune/shared';

/**
 * Lets the malicious sites of a simulation pool their honestly trained updates for a round, as the
 * colluding attackers of ALIE and IPM do. Each posts its own; all get the pool once every malicious site
 * has posted, or `waitMs` after the first post (a site may not have been selected).
 */
export class Collusion {
  private readonly rounds = new Map<number, { deltas: WeightArrays[]; waiters: Array<(d: WeightArrays[]) => void>; timer?: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly members: number,
    private readonly waitMs = 5_000,
  ) {}

  post(round: number, delta: WeightArrays): Promise<WeightArrays[]> {
    let entry = this.rounds.get(round);
    if (!entry) {
      entry = { deltas: [], waiters: [] };
      this.rounds.set(round, entry);
      const e = entry;
      entry.timer = setTimeout(() => this.release(round, e), this.waitMs);
    }
    entry.deltas.push(delta);
    const e = entry;
    const result = new Promise<WeightArrays[]>((resolve) => e.waiters.push(resolve));
    if (entry.deltas.length >= this.members) this.release(round, entry);
    return result;
  }

  private release(round: number, entry: { deltas: WeightArrays[]; waiters: Array<(d: WeightArrays[]) => void>; timer?: ReturnType<typeof setTimeout> }): void {
    if (entry.timer) clearTimeout(entry.timer);
    for (const w of entry.waiters.splice(0)) w(entry.deltas);
    this.rounds.delete(round);
  }
}

export function delta(weights: WeightArrays, global: WeightArrays): WeightArrays {
  return weights.map((w, t) => {
    const g = global[t];
    const d = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) d[i] = w[i] - g[i];
    return d;
  });
}

export function addDelta(global: WeightArrays, d: WeightArrays, scale = 1): WeightArrays {
  return global.map((g, t) => {
    const out = new Float32Array(g.length);
    const x = d[t];
    for (let i = 0; i < g.length; i++) out[i] = g[i] + scale * x[i];
    return out;
  });
}
