import { describe, expect, it } from 'vitest';
import { apartTicks, lineChart } from '../../coordinator/src/report/svg-charts.ts';

describe('apartTicks: x tick labels never overlap', () => {
  it.each([
    ['the first is always kept', [[10, '0']], [[10, '0']]],
    ['far apart: all kept', [[0, '0'], [100, '0.1'], [200, '0.2']], [[0, '0'], [100, '0.1'], [200, '0.2']]],
    // "0.05" and "0.06": (4 + 4) / 2 × 6.5 + 4 = 30 px apart at least.
    ['30 px apart: both', [[100, '0.05'], [130, '0.06']], [[100, '0.05'], [130, '0.06']]],
    ['29 px apart: the second dropped', [[100, '0.05'], [129, '0.06']], [[100, '0.05']]],
    ['measured from the last kept, not the last seen', [[100, '0.05'], [115, '0.06'], [131, '0.07']], [[100, '0.05'], [131, '0.07']]],
  ] as Array<[string, Array<[number, string]>, Array<[number, string]>]>)('%s', (_what, ticks, kept) => {
    expect(apartTicks(ticks)).toEqual(kept);
  });

  it('robust accuracy against ε (0, 0.05, 0.06, 0.1, 0.2, 0.3): no two labels overlap', () => {
    const svg = lineChart([{ name: 'PGD', points: [0, 0.05, 0.06, 0.1, 0.2, 0.3].map((e, i) => [e, 0.9 - i * 0.1] as [number, number]) }], { title: 't', xLabel: 'ε' });
    const labels = [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">([^<]*)<\/text>/g)].map((m) => [Number(m[1]), m[2]] as [number, string]);
    const xs = labels.filter(([, l]) => /^0(\.\d+)?$/.test(l));
    expect(xs.map(([, l]) => l)).toContain('0.05');
    expect(xs.map(([, l]) => l)).not.toContain('0.06');
    for (let i = 1; i < xs.length; i++) expect(xs[i][0] - xs[i - 1][0]).toBeGreaterThanOrEqual(((xs[i][1].length + xs[i - 1][1].length) / 2) * 6.5 + 4);
  });
});
