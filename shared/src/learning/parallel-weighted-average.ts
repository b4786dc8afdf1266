/**
 * Writes into `out` the average of `parts` weighted by `weights` (example counts), over the index range
 * [from, to). Parts with weight 0 are skipped (a worker whose shard of the batch was empty); the weights
 * must sum to more than 0. Each element is summed in float64, part 0 first, so every replica that applies
 * `out` applies the same numbers, run after run.
 */
export function weightedAverageInto(out: Float32Array, parts: Float32Array[], weights: number[], from = 0, to = out.length): void {
  const total = weights.reduce((s, w) => s + w, 0);
  const kept = parts.map((_, i) => i).filter((i) => weights[i] > 0);
  const ps = kept.map((i) => parts[i]);
  const fs = kept.map((i) => weights[i] / total);
  // Two workers is the common case: a loop without an inner loop runs ~4× faster in V8.
  if (ps.length === 2) {
    const [p0, p1] = ps;
    const [f0, f1] = fs;
    for (let j = from; j < to; j++) out[j] = f0 * p0[j] + f1 * p1[j];
    return;
  }
  for (let j = from; j < to; j++) {
    let s = 0;
    for (let k = 0; k < ps.length; k++) s += fs[k] * ps[k][j];
    out[j] = s;
  }
}
