// The y axis of fedtune's charts, shared by the live dashboard (served as /dashboard/axis-range.js) and
// report.html (coordinator/src/report/svg-charts.ts imports this file): one rule for both, so the page and
// the report draw the same numbers on the same ticks. Plain JavaScript so the browser loads it unbuilt;
// types in axis-range.d.ts.

/** The smallest "nice" step (1, 2, 2.5 or 5 × 10^k) that is at least `raw` (> 0). */
export function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5]) if (m * power >= raw - 1e-12 * power) return m * power;
  return 10 * power;
}

/** Rounds away float noise (0.1 + 0.2) so ticks print and compare exactly. */
const tidy = (v) => Math.round(v * 1e9) / 1e9;

/**
 * An axis [lo, hi] that brackets every finite value, on ticks a nice step apart (about `ticks` intervals),
 * clamped to [floor, ceil] when given. Equal values get a span of `minSpan` around them. Undefined when no
 * value is finite.
 */
export function niceAxis(values, options = {}) {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return undefined;
  const intervals = options.ticks ?? 5;
  const floor = options.floor ?? -Infinity;
  const ceil = options.ceil ?? Infinity;
  let min = Math.min(...finite);
  let max = Math.max(...finite);
  if (max - min < 1e-12) {
    const half = (options.minSpan ?? 0.02) / 2;
    min -= half;
    max += half;
  }
  const step = niceStep((max - min) / intervals);
  const lo = Math.max(floor, tidy(Math.floor(tidy(min / step)) * step));
  const hi = Math.min(ceil, tidy(Math.ceil(tidy(max / step)) * step));
  const ticks = [];
  for (let k = 0; ; k++) {
    const t = tidy(Math.ceil(tidy(lo / step)) * step + k * step);
    if (t > hi + 1e-12) break;
    ticks.push(t);
  }
  return { lo, hi, step, ticks };
}

/** The whole 0–100% accuracy axis. */
export const FULL_ACCURACY_AXIS = Object.freeze({ lo: 0, hi: 1, step: 0.25, ticks: Object.freeze([0, 0.25, 0.5, 0.75, 1]) });

/**
 * The axis of accuracies (fractions 0–1): zoomed to the data's range (a 63→80% climb spans 60–80%), or the
 * whole 0–100% when `full`. Undefined when no value is finite.
 */
export function accuracyAxis(values, full = false) {
  if (!values.some((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
  return full ? FULL_ACCURACY_AXIS : niceAxis(values, { floor: 0, ceil: 1, minSpan: 0.02 });
}

/** A tick of an accuracy axis in %: as many decimals as the step needs (60%, 62.5%, 60.5%). */
export function percentTick(value, step) {
  return `${tidy(value * 100).toFixed(stepDecimals(step * 100))}%`;
}

/** The decimals a step needs to print exactly (0.25 → 2, 0.5 → 1, 5 → 0), at most 6. */
export function stepDecimals(step) {
  for (let d = 0; d < 6; d++) if (Number.isInteger(tidy(step * 10 ** d))) return d;
  return 6;
}

/** A tick of a plain axis (loss): as many decimals as the step needs (1.25 on a 0.25 step, 2 on a 1 step). */
export function numberTick(value, step) {
  return tidy(value).toFixed(stepDecimals(step));
}
