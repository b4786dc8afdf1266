import { describe, expect, it } from 'vitest';
import { renderSweepHtml } from '../../cli/src/sweep/sweep-html.ts';
import { sweepTables } from '../../cli/src/sweep/sweep-table.ts';
import { SWEEP_RECORD_VERSION, type SweepRecord, type TrialResult } from '../../cli/src/sweep/sweep-record.ts';
import { settings } from './fake-trials.ts';

const result = (trial: number, rung: number, clean: number | null, robust: number | null, extra: Partial<TrialResult> = {}): TrialResult => ({
  trial,
  rung,
  rounds: rung === 0 ? 1 : 3,
  params: { arch: trial === 2 ? '<script>alert(1)</script>' : 'mlp' },
  status: clean === null ? 'failed' : 'complete',
  clean,
  robust,
  ece: clean === null ? null : 0.05,
  score: clean === null ? null : (clean + robust!) / 2,
  durationMs: 1000,
  runId: `trial-00${trial}-r1`,
  reportPath: clean === null ? null : `runs/trial-00${trial}-r1/report.json`,
  ...extra,
});

const record: SweepRecord = {
  version: SWEEP_RECORD_VERSION,
  settings: settings({ space: { arch: ['mlp', 'cnn', 'x'] }, maxRounds: 3 }),
  rungs: [1, 3],
  trials: [0, 1, 2].map((trial) => ({ trial, params: {} })),
  results: [result(0, 0, 0.9, 0.2), result(1, 0, 0.8, 0.1), result(2, 0, null, null, { error: '<img src=x onerror=alert(2)>' }), result(0, 1, 0.95, 0.3), result(1, 1, 0.5, 0.5, { reportPath: 'javascript:alert(3)' })],
  front: [0],
  status: 'complete',
};

describe('sweep output', () => {
  it('the tables list every trial run and the front, marking front members', () => {
    const text = sweepTables(record);
    const [all, front] = text.split('Pareto front');
    expect(all.split('\n').filter((l) => /^\d/.test(l))).toHaveLength(5);
    expect(front.split('\n').filter((l) => /^\d/.test(l))).toEqual([expect.stringMatching(/^0\s+3\s+mlp\s+95\.0%\s+30\.0%\s+0\.050\s+0\.6250\s+complete\s+\*$/)]);
    // Trial 0's first-rung row is not the front's point (its last rung is).
    expect(all).toMatch(/^0\s+1\s+mlp\s+90\.0%.*complete$/m);
  });

  it('sweep.html plots the latest complete trials, the front highlighted, and escapes every string', () => {
    const html = renderSweepHtml(record);
    expect(html.match(/<circle /g)).toHaveLength(2);
    expect(html).toContain('trial 1 (3 rounds)');
    expect(html.match(/r="5"/g)).toHaveLength(1);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('href="runs/trial-000-r1/report.html"');
    expect(html).not.toContain('javascript:');
    // Rungs counted from 1, as the command line prints them ("rung 1/3"); the record keeps the index.
    const rungCells = [...html.matchAll(/<tr><td>(\d+)(?: ★)?<\/td><td>(\d+)<\/td>/g)].map((m) => Number(m[2]));
    expect(rungCells.length).toBeGreaterThan(0);
    expect(Math.min(...rungCells)).toBe(1);
    expect(Math.min(...record.results.map((r) => r.rung))).toBe(0);
  });
});
