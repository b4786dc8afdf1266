/**
 * Thinning a chart line to a bounded number of points, so report.html's per-round charts stay the same size however
 * many rounds a run has (a point is ~120 bytes of SVG: its polyline coordinates and its dot with a tooltip).
 */
/**
 * Most points a per-round line draws. The plot is 362 units wide, so 150 points are ~2.4 units apart, about a dot's
 * radius: more would only overlap.
 */
export const MAX_POINTS_PER_LINE = 150;

const finiteY = (p: [number, number]) => Number.isFinite(p[1]);

/**
 * The points of a line that a chart of at most `max` points per line draws. Points whose y is not finite are dropped,
 * as `lineChart` drops them (it draws nothing for them). At most `max` finite points are returned as they are (the same
 * array when none was dropped). Past that: the first and last point and, of each of ⌊(max − 2) / 2⌋ buckets of
 * consecutive points between them, the lowest and highest y (the first of equal ones; one point when they are the same)
 * — so the line keeps its first, last, lowest and highest point and its envelope, in the input's order.
 * Deterministic: the same points give the same result. `max` must be at least 4 (first, last, lowest, highest).
 */
export function thinPoints(points: Array<[number, number]>, max = MAX_POINTS_PER_LINE): Array<[number, number]> {
  const finite = points.every(finiteY) ? points : points.filter(finiteY);
  const kept = thinnedIndices(finite.length, (i) => finite[i][1], max);
  return kept ? kept.map((i) => finite[i]) : finite;
}

/**
 * `thinPoints` on a line of `length` points, all finite, given as the y of each index: the indices it keeps, in order,
 * or undefined when it keeps every point (at most `max`). For a line not held as [x, y] pairs (point-columns.ts).
 */
export function thinnedIndices(length: number, y: (i: number) => number, max = MAX_POINTS_PER_LINE): number[] | undefined {
  if (!Number.isInteger(max) || max < 4) throw new RangeError(`thinPoints: max must be an integer ≥ 4, got ${max}`);
  if (length <= max) return undefined;
  const inner = length - 2;
  const buckets = Math.floor((max - 2) / 2);
  const kept: number[] = [0];
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets);
    const to = 1 + Math.floor(((b + 1) * inner) / buckets);
    let lo = from;
    let hi = from;
    let loY = y(from);
    let hiY = loY;
    for (let i = from + 1; i < to; i++) {
      const v = y(i);
      if (v < loY) {
        lo = i;
        loY = v;
      }
      if (v > hiY) {
        hi = i;
        hiY = v;
      }
    }
    if (lo === hi) kept.push(lo);
    else kept.push(Math.min(lo, hi), Math.max(lo, hi));
  }
  kept.push(length - 1);
  return kept;
}

/** A chart's line as `thinnedChartNote` reads it (svg-charts' `Series` is one). */
interface Line {
  points: Array<[number, number]>;
}

/** The number of finite points of a chart's longest line (what `thinPoints` counts against `max`). */
function longestLine(lines: readonly Line[]): number {
  return Math.max(0, ...lines.map((l) => l.points.reduce((n, p) => n + (finiteY(p) ? 1 : 0), 0)));
}

/**
 * The note under a per-round chart whose lines `lineChart(…, { maxPointsPerLine: max })` thinned: '' when no line has
 * more than `max` points (the chart is drawn whole), else one short paragraph saying what was kept. Its text holds
 * only digits and fixed words, nothing HTML escapes.
 */
export function thinnedChartNote(lines: readonly Line[], max = MAX_POINTS_PER_LINE): string {
  return thinnedNote(longestLine(lines), lines.length, () => thinPoints(lines[0].points, max).length, max);
}

/**
 * `thinnedChartNote` of a chart of `lineCount` lines whose longest has `longest` finite points; `drawnOfOnlyLine` gives
 * how many points a chart of one line draws of it (asked only then).
 */
export function thinnedNote(longest: number, lineCount: number, drawnOfOnlyLine: () => number, max = MAX_POINTS_PER_LINE): string {
  if (longest <= max) return '';
  const drawn = lineCount > 1 ? `at most ${max} points per line, of up to ${longest} rounds` : `${drawnOfOnlyLine()} of ${longest} rounds`;
  return `<p class="note thinned">drawn with ${drawn}: each line's first, last, lowest and highest kept, and the lowest and highest of each stretch between; the rounds table lists every round</p>`;
}
