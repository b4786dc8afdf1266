import { latestResults } from './run-sweep.ts';
import type { SweepRecord, TrialResult } from './sweep-record.ts';

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
const cell = (v: unknown) => {
  const s = typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
  return s.length > 24 ? `${s.slice(0, 23)}…` : s;
};

/** A trial's parameters as one short line: `train.learningRate=0.01 arch=cnn`. */
export function describeParams(params: TrialResult['params']): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${cell(v)}`)
    .join(' ');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function rowsOf(record: SweepRecord, results: readonly TrialResult[]): string[][] {
  const keys = Object.keys(record.settings.space);
  return results.map((r) => [
    String(r.trial),
    String(r.rounds),
    ...keys.map((k) => cell(r.params[k])),
    pct(r.clean),
    pct(r.robust),
    r.ece === null ? '-' : r.ece.toFixed(3),
    r.score === null ? '-' : r.score.toFixed(4),
    r.status,
    record.front.includes(r.trial) && r === latestResults(record.results).find((x) => x.trial === r.trial) ? '*' : '',
  ]);
}

/**
 * The sweep as text: every trial at every rung it ran, then the Pareto front of clean vs robust accuracy
 * (each trial at its last rung). `*` marks front members.
 */
export function sweepTables(record: SweepRecord): string {
  const eps = record.settings.robustEps;
  const header = ['trial', 'rounds', ...Object.keys(record.settings.space), 'clean', `PGD ε=${eps}`, 'ECE', record.settings.objective, 'status', 'front'];
  const all = [...record.results].sort((a, b) => a.rung - b.rung || a.trial - b.trial);
  const front = record.front.map((t) => latestResults(record.results).find((r) => r.trial === t)!).filter(Boolean);
  return [
    `all trials (${new Set(record.results.map((r) => r.trial)).size} of ${record.trials.length}, rungs ${record.rungs.join(' → ')} rounds):`,
    table(header, rowsOf(record, all)),
    '',
    `Pareto front of clean vs PGD ε=${eps} accuracy (${front.length} trial${front.length === 1 ? '' : 's'}):`,
    front.length ? table(header, rowsOf(record, front)) : '(no complete trial yet)',
  ].join('\n');
}
