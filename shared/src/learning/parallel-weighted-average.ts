/**
 * Writes into `out` the average of `parts` weighted by `weights` (example counts), over the index range
 * [from, to) — one worker's slice of a reduce. Parts with weight 0 are skipped (a worker whose shard of the
 * batch was empty); the weights must sum to more than 0. Always sums the parts in the same order, so every
 * replica that applies `out` applies the same numbers.
 */
export function weightedAverageInto(out: Float32Array, parts: Float32Array[], weights: number[], from = 0, to = out.length): void {
  const total = weights.reduce((s, w) => s + w, 0);
  const used = parts.map((p, i) => ({ p, f: weights[i] / total })).filter((u) => u.f > 0);
  for (let j = from; j < to; j++) {
    let s = 0;
    for (const u of used) s += u.f * u.p[j];
    out[j] = s;
  }
}
