/**
 * One table of goal → measured for every benchmark result that declares targets
 * (`bench/results/*.json` with a top-level `targets: [{ target, goal, measured, unit, met }]`), and a line per
 * target appended to bench/results/history.jsonl (date, commit, file, target, goal, measured, met), so a
 * regression shows against earlier runs. `npx tsx bench/summary.ts` prints the table from the files as they
 * are; bench/all.ts runs the benchmarks first.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchTarget {
  target: string;
  goal: number;
  measured: number;
  unit: string;
  met: boolean;
  note?: string;
}

export interface TargetRow extends BenchTarget {
  file: string;
  date?: string;
}

const resultsDir = join(import.meta.dirname, 'results');

function isTarget(t: unknown): t is BenchTarget {
  const o = t as Partial<BenchTarget> | null;
  return typeof o?.target === 'string' && typeof o.goal === 'number' && typeof o.measured === 'number' && typeof o.met === 'boolean';
}

/** Every declared target in bench/results/*.json (files without `targets` are skipped). */
export function collectTargets(dir = resultsDir): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let json: { targets?: unknown; date?: unknown };
    try {
      json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch {
      continue;
    }
    if (!Array.isArray(json.targets)) continue;
    for (const t of json.targets) {
      if (isTarget(t)) rows.push({ ...t, unit: t.unit ?? 'ratio', file, date: typeof json.date === 'string' ? json.date : undefined });
    }
  }
  return rows;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** The table as text (markdown-compatible). */
export function formatTargets(rows: TargetRow[]): string {
  const lines = ['| target | goal | measured | met | result file (date) |', '| --- | ---: | ---: | :---: | --- |'];
  for (const r of rows) {
    lines.push(`| ${r.target}${r.note ? ` — ${r.note}` : ''} | ${fmt(r.goal)} ${r.unit} | ${fmt(r.measured)} ${r.unit} | ${r.met ? 'yes' : '**no**'} | ${r.file}${r.date ? ` (${r.date.slice(0, 10)})` : ''} |`);
  }
  const met = rows.filter((r) => r.met).length;
  lines.push('', `${met} of ${rows.length} targets met`);
  return lines.join('\n');
}

/** Appends the rows to bench/results/history.jsonl with the commit they were measured on. */
export function appendHistory(rows: TargetRow[], dir = resultsDir): void {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const at = new Date().toISOString();
  const text = rows.map((r) => JSON.stringify({ at, commit, file: r.file, measuredOn: r.date, target: r.target, goal: r.goal, measured: r.measured, unit: r.unit, met: r.met })).join('\n');
  if (text) appendFileSync(join(dir, 'history.jsonl'), `${text}\n`);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('summary.ts')) {
  if (!existsSync(resultsDir)) {
    console.log('no bench/results yet: run `npm run bench`');
  } else {
    const rows = collectTargets();
    console.log(formatTargets(rows));
    if (process.argv.includes('--record')) appendHistory(rows);
  }
}
