import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendHistory, collectTargets, formatTargets } from '../../bench/summary.ts';

function resultsDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-summary-'));
  for (const [name, json] of Object.entries(files)) writeFileSync(join(dir, name), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}

describe('bench summary (npm run bench table)', () => {
  it('collects declared targets from every result file, skipping files without targets, malformed rows and broken JSON', () => {
    const dir = resultsDir({
      'b.json': { date: '2026-11-30T10:00:00Z', targets: [{ target: 'site training MLP', goal: 1.6, measured: 1.9, unit: 'ratio', met: true }, { target: 'bad', goal: 'x' }] },
      'a.json': { targets: [{ target: 'p99', goal: 50, measured: 80, unit: 'ms', met: false }] },
      'old.json': { fedavg: { ratio: 0.1 } },
      'broken.json': '{ not json',
      'notes.md': 'ignored',
    });
    const rows = collectTargets(dir);
    expect(rows.map((r) => [r.file, r.target, r.met])).toEqual([
      ['a.json', 'p99', false],
      ['b.json', 'site training MLP', true],
    ]);
    expect(rows[1].date).toBe('2026-11-30T10:00:00Z');
  });

  it('prints goal and measured per target and counts the met ones', () => {
    const text = formatTargets([
      { file: 'x.json', target: 'client ready', goal: 0.5, measured: 0.42, unit: 's', met: true },
      { file: 'y.json', target: 'per update', goal: 1, measured: 3.3, unit: 'ms', met: false, note: '500 sites' },
    ]);
    expect(text).toContain('| client ready | 0.50 s | 0.42 s | yes |');
    expect(text).toContain('| per update — 500 sites | 1.00 ms | 3.30 ms | **no** |');
    expect(text).toMatch(/1 of 2 targets met$/);
  });

  it('appends one history line per target', () => {
    const dir = resultsDir({});
    appendHistory([{ file: 'x.json', target: 't', goal: 2, measured: 2.5, unit: 'ratio', met: true }], dir);
    appendHistory([{ file: 'x.json', target: 't', goal: 2, measured: 1.5, unit: 'ratio', met: false }], dir);
    const lines = readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.measured, l.met])).toEqual([[2.5, true], [1.5, false]]);
    expect(lines[0]).toHaveProperty('commit');
  });
});
