import { describe, expect, it } from 'vitest';
import { PointColumns } from '../../coordinator/src/report/point-columns.ts';
import { columnLineChart, lineChart, type Series } from '../../coordinator/src/report/svg-charts.ts';

// columnLineChart draws lines held as columns (point-columns.ts) byte for byte as lineChart draws the same points, with
// its axes from the lines' kept extents.

const columnsOf = (points: Array<[number, number]>) => {
  const c = new PointColumns();
  for (const [x, y] of points) c.push(x, y);
  return c;
};
const line = (n: number, y: (i: number) => number, x0 = 1): Array<[number, number]> => Array.from({ length: n }, (_, i) => [x0 + i, y(i)]);

const CASES: Array<[string, Array<Array<[number, number]>>]> = [
  ['one point', [[[3, 0.5]]]],
  ['one line of equal values', [line(40, () => 0.7)]],
  ['lines of different rounds, one empty, past the bound', [line(400, (i) => 0.5 + 0.3 * Math.sin(i / 7)), [], line(260, (i) => 0.2 + (i % 13) / 50, 90), line(151, (i) => (i % 2 ? 0.9 : 0.1), 300)]],
  ['a round twice in a line', [[[1, 0.5], [2, 0.4], [2, 0.6], [3, 0.55]], line(5, (i) => i / 10)]],
  ['xs not ascending', [[[5, 0.5], [2, 0.4], [9, 0.6]], line(3, (i) => i / 5, 4)]],
  ['no line has points', [[], []]],
  ['lines of the same rounds, and one that also has rounds between and after theirs', [line(120, (i) => 0.5 + (i % 7) / 40), line(120, (i) => 0.45 + (i % 5) / 30), [[1, 0.5], [1, 0.6], [1.5, 0.4], [60, 0.7], [200, 0.65]], line(120, (i) => 0.6 - (i % 3) / 50)]],
  ['lines whose rounds interleave', [line(30, (i) => i / 40, 1).filter((_, i) => i % 2 === 0), line(30, (i) => 0.3 + i / 50, 1).filter((_, i) => i % 2 === 1), line(10, () => 0.4, 25)]],
];

describe('columnLineChart', () => {
  for (const [name, lines] of CASES) {
    for (const y of ['number', 'zoomed-accuracy', 'accuracy'] as const) {
      it(`${name}, y ${y}: the same chart as lineChart`, () => {
        const series: Series[] = lines.map((points, i) => ({ name: `site-${i} <&>`, points }));
        const opts = { title: 't', xLabel: 'round', y, maxPointsPerLine: 150 };
        expect(columnLineChart(series.map((s) => ({ name: s.name, points: columnsOf(s.points) })), opts)).toBe(lineChart(series, opts));
      });
    }
  }

  it('a line joined from two parts draws as the whole line, and joining an empty part returns the line itself', () => {
    const points = line(300, (i) => 0.4 + ((i * 7) % 11) / 30);
    const a = columnsOf(points.slice(0, 210));
    const joined = PointColumns.joined(a, columnsOf(points.slice(210)));
    expect(joined.xs).toEqual(points.map((p) => p[0]));
    expect([joined.xMin, joined.xMax, joined.yMin, joined.yMax]).toEqual([1, 300, Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))]);
    expect(a.length).toBe(210);
    expect(PointColumns.joined(a, new PointColumns())).toBe(a);
    expect(PointColumns.joined(a, undefined)).toBe(a);
    expect(PointColumns.joined(columnsOf([[5, 1]]), columnsOf([[4, 1]])).xsAscending).toBe(false);
    const opts = { title: 't', xLabel: 'round', y: 'number' as const, maxPointsPerLine: 150 };
    expect(columnLineChart([{ name: 'a', points: joined }], opts)).toBe(lineChart([{ name: 'a', points }], opts));
  });
});
