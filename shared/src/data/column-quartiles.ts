/**
 * The k-th smallest of `values[0, m)` (0-based), partially reordering them in place (Hoare's quickselect with a
 * median-of-three pivot): afterwards values[i] ≤ values[k] for i < k and ≥ for i > k. No NaN in `values`.
 */
export function selectKth(values: Float64Array, m: number, k: number): number {
  let lo = 0;
  let hi = m - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot value.
    const a = values[lo];
    const b = values[mid];
    const c = values[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

/** The smallest of `values[from, m)`. */
function minFrom(values: Float64Array, from: number, m: number): number {
  let min = values[from];
  for (let i = from + 1; i < m; i++) if (values[i] < min) min = values[i];
  return min;
}

/**
 * The `q` quantile (linear interpolation between the order statistics at ⌊(m−1)q⌋ and ⌈(m−1)q⌉) of
 * `values[0, m)`, as a full sort followed by that interpolation would give, in O(m): reorders `values`.
 */
export function quantileUnsorted(values: Float64Array, m: number, q: number): number {
  const pos = (m - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const low = selectKth(values, m, lo);
  const high = hi === lo ? low : minFrom(values, lo + 1, m);
  return low + (high - low) * (pos - lo);
}
