import { describe, expect, it } from 'vitest';
import { lineChart } from '../../coordinator/src/report/svg-charts.ts';
import { MAX_POINTS_PER_LINE, thinnedChartNote, thinPoints } from '../../coordinator/src/report/thin-series.ts';

// thinPoints: a report.html line of many rounds drawn with at most N points, keeping its first, last, lowest and highest.

type Point = [number, number];

/** A deterministic pseudo-random sequence in [0, 1) (a linear congruential generator), for noisy lines. */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const line = (n: number, y: (i: number) => number): Point[] => Array.from({ length: n }, (_, i) => [i + 1, y(i)]);

const SHAPES: Array<[string, (n: number) => Point[]]> = [
  ['increasing', (n) => line(n, (i) => i / n)],
  ['decreasing', (n) => line(n, (i) => 1 - i / n)],
  ['noisy', (n) => {
    const r = noise(n);
    return line(n, () => r());
  }],
  ['flat', (n) => line(n, () => 0.5)],
  ['one low spike in the middle', (n) => line(n, (i) => (i === Math.floor(n / 2) + 1 ? -3 : 0.5 + Math.sin(i) / 10))],
  ['one high spike next to the last', (n) => line(n, (i) => (i === n - 2 ? 9 : Math.cos(i)))],
  ['lowest first, highest last', (n) => line(n, (i) => (i === 0 ? -1 : i === n - 1 ? 2 : Math.sin(i / 3)))],
  ['rounds with gaps (a site that sat out)', (n) => line(n, (i) => Math.sin(i / 7)).map(([x, y], i) => [x * 3 + (i % 2), y] as Point)],
];

/** Indices in `points` of each of `kept` (by identity): thinPoints returns the input's own points. */
const indicesOf = (points: Point[], kept: Point[]) => kept.map((p) => points.indexOf(p));

describe('thinPoints', () => {
  describe.each(SHAPES)('%s', (_, make) => {
    it.each([
      [4, 5], [4, 1000], [5, 6], [6, 11], [MAX_POINTS_PER_LINE, MAX_POINTS_PER_LINE + 1], [MAX_POINTS_PER_LINE, 2 * MAX_POINTS_PER_LINE + 3], [MAX_POINTS_PER_LINE, 1000], [MAX_POINTS_PER_LINE, 10_007], [151, 997],
    ])('max %i of %i points: at most max, first, last, lowest and highest kept, in order, every stretch represented, deterministic', (max, n) => {
      const points = make(n);
      const kept = thinPoints(points, max);
      expect(kept.length).toBeLessThanOrEqual(max);
      expect(kept[0]).toBe(points[0]);
      expect(kept.at(-1)).toBe(points.at(-1));
      const ys = points.map((p) => p[1]);
      expect(Math.min(...kept.map((p) => p[1]))).toBe(Math.min(...ys));
      expect(Math.max(...kept.map((p) => p[1]))).toBe(Math.max(...ys));
      const at = indicesOf(points, kept);
      expect(at.every((i) => i >= 0)).toBe(true);
      for (let k = 1; k < at.length; k++) expect(at[k]).toBeGreaterThan(at[k - 1]);
      // Every bucket of ⌈(n − 2) / buckets⌉ points between the ends keeps at least one: no kept neighbours further apart than two buckets.
      const bucket = Math.ceil((n - 2) / Math.floor((max - 2) / 2));
      for (let k = 1; k < at.length; k++) expect(at[k] - at[k - 1]).toBeLessThanOrEqual(2 * bucket);
      expect(thinPoints(make(n), max)).toEqual(kept);
    });
  });

  it.each([[4], [5], [6], [MAX_POINTS_PER_LINE], [MAX_POINTS_PER_LINE + 1]])('a monotone line of many points keeps two per bucket: as many as max allows (max %i)', (max) => {
    expect(thinPoints(line(5000, (i) => i), max)).toHaveLength(2 + 2 * Math.floor((max - 2) / 2));
  });

  it('keeps each bucket\'s lowest and highest in x order, one point when they are the same (10 points, max 6: buckets 2–5 and 6–9)', () => {
    const points = line(10, (i) => [5, 3, 9, 1, 4, 7, 7, 7, 7, 0][i]);
    expect(thinPoints(points, 6)).toEqual([[1, 5], [3, 9], [4, 1], [6, 7], [10, 0]]);
    const rising = line(10, (i) => [5, 1, 2, 3, 4, 8, 6, 6, 6, 0][i]);
    expect(thinPoints(rising, 6)).toEqual([[1, 5], [2, 1], [5, 4], [6, 8], [7, 6], [10, 0]]);
  });

  it('of equal lowest (or highest) values keeps the first', () => {
    const kept = thinPoints(line(20, (i) => (i % 5 === 1 ? 0 : 1)), 4);
    expect(kept).toEqual([[1, 1], [2, 0], [3, 1], [20, 1]]);
  });

  it.each([0, 1, 4, MAX_POINTS_PER_LINE - 1, MAX_POINTS_PER_LINE])('%i points (at most max) are drawn as they are: the same array', (n) => {
    const points = line(n, (i) => Math.sin(i));
    expect(thinPoints(points)).toBe(points);
  });

  it('drops points whose y is not finite, as lineChart does, before counting them against max', () => {
    expect(thinPoints([])).toEqual([]);
    expect(thinPoints([[3, 0.5]])).toEqual([[3, 0.5]]);
    expect(thinPoints([[1, Number.NaN]])).toEqual([]);
    expect(thinPoints([[1, Number.NaN], [2, 0.5], [3, Number.POSITIVE_INFINITY], [4, Number.NEGATIVE_INFINITY], [5, 0.25]])).toEqual([[2, 0.5], [5, 0.25]]);
    // 200 points, 60 of them NaN: 140 finite ones fit in 150, all drawn.
    const gappy = line(200, (i) => (i % 10 < 3 ? Number.NaN : i));
    expect(thinPoints(gappy)).toEqual(gappy.filter((p) => Number.isFinite(p[1])));
    // NaN first and last: the first and last *finite* points are kept, the extremes ignore NaN.
    const ends = line(1000, (i) => (i === 0 || i === 999 ? Number.NaN : i === 500 ? -1 : Math.sin(i)));
    const kept = thinPoints(ends);
    expect(kept[0]).toBe(ends[1]);
    expect(kept.at(-1)).toBe(ends[998]);
    expect(kept).toContain(ends[500]);
    expect(kept.every((p) => Number.isFinite(p[1]))).toBe(true);
  });

  it.each([3, 0, -1, 4.5, Number.NaN])('refuses max %s (fewer than first, last, lowest and highest)', (max) => {
    expect(() => thinPoints(line(10, (i) => i), max)).toThrow(RangeError);
  });
});

describe('lineChart with maxPointsPerLine', () => {
  const dots = (svg: string) => svg.match(/<circle /g)?.length ?? 0;
  const polylinePoints = (svg: string) => [...svg.matchAll(/points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
  const axesOf = (svg: string) => svg.slice(0, svg.indexOf('<polyline'));
  const long = [{ name: 'a', points: line(1000, (i) => Math.sin(i / 9)) }, { name: 'b', points: line(400, (i) => i / 400) }, { name: 'c', points: line(20, (i) => i / 20) }];

  it('draws at most max points per line (its dots and its polyline), on the axes of every point', () => {
    const whole = lineChart(long, { title: 't', xLabel: 'round', y: 'zoomed-accuracy' });
    const thinned = lineChart(long, { title: 't', xLabel: 'round', y: 'zoomed-accuracy', maxPointsPerLine: 150 });
    expect(polylinePoints(whole)).toEqual([1000, 400, 20]);
    expect(polylinePoints(thinned)).toEqual([150, 150, 20]);
    expect(dots(thinned)).toBe(320);
    expect(axesOf(thinned)).toBe(axesOf(whole));
    expect(thinned).toContain('<title>a: 100.0% at ');
    expect(thinned).toContain('<title>b: 99.8% at 400</title>');
  });

  it('draws a chart of short lines byte-identical to one without the option', () => {
    const short = long.map((s) => ({ ...s, points: s.points.slice(0, 150) }));
    short[0].points[3] = [4, Number.NaN];
    expect(lineChart(short, { title: 't', xLabel: 'round', y: 'number', maxPointsPerLine: 150 })).toBe(lineChart(short, { title: 't', xLabel: 'round', y: 'number' }));
  });
});

describe('thinnedChartNote', () => {
  it('is empty while every line fits, and says what was kept once one does not', () => {
    expect(thinnedChartNote([])).toBe('');
    expect(thinnedChartNote([{ points: line(MAX_POINTS_PER_LINE, (i) => i) }])).toBe('');
    // Non-finite points do not count: lineChart draws nothing for them.
    expect(thinnedChartNote([{ points: [...line(MAX_POINTS_PER_LINE, (i) => i), [999, Number.NaN]] }])).toBe('');
    const one = thinnedChartNote([{ points: line(1000, (i) => i) }]);
    expect(one).toBe(
      `<p class="note thinned">drawn with ${MAX_POINTS_PER_LINE} of 1000 rounds: each line's first, last, lowest and highest kept, and the lowest and highest of each stretch between; the rounds table lists every round</p>`,
    );
    expect(thinnedChartNote([{ points: line(1000, () => 1) }])).toContain(`drawn with ${2 + Math.floor((MAX_POINTS_PER_LINE - 2) / 2)} of 1000 rounds`);
    expect(thinnedChartNote([{ points: line(20, (i) => i) }, { points: line(MAX_POINTS_PER_LINE + 1, (i) => i) }])).toContain(`drawn with at most ${MAX_POINTS_PER_LINE} points per line, of up to ${MAX_POINTS_PER_LINE + 1} rounds:`);
  });
});
