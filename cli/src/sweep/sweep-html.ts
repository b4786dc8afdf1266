import { join } from 'node:path';
import { escapeHtml, scatterChart } from '@fedtune/coordinator';
import { writeFileAtomic } from '@fedtune/shared/node';
import { latestResults } from './run-sweep.ts';
import type { SweepRecord } from './sweep-record.ts';
import { describeParams } from './sweep-table.ts';

/** Only a trial's own report is linked (sweep.json is a file on disk: a tampered path gets no link). */
const REPORT_PATH = /^runs\/trial-\d{3,}-r\d+\/report\.json$/;

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

/** sweep.html: the scatter of clean vs robust accuracy with the Pareto front, and the table of every trial. */
export function renderSweepHtml(record: SweepRecord): string {
  const eps = record.settings.robustEps;
  const latest = latestResults(record.results);
  const front = record.front.map((t) => latest.find((r) => r.trial === t)!).filter(Boolean);
  const points = latest
    .filter((r) => r.clean !== null && r.robust !== null)
    .map((r) => ({ x: r.clean!, y: r.robust!, label: `trial ${r.trial} (${r.rounds} rounds) ${describeParams(r.params)}`, highlight: record.front.includes(r.trial) }))
    // The front's dashed line runs in clean-accuracy order.
    .sort((a, b) => a.x - b.x || a.y - b.y);
  const chart = scatterChart(points, { title: 'clean vs robust accuracy', xLabel: 'clean accuracy', yLabel: `PGD ε=${eps} accuracy`, highlightName: 'Pareto front' });
  const keys = Object.keys(record.settings.space);
  const head = ['trial', 'rung', 'rounds', ...keys, 'clean', `PGD ε=${eps}`, 'ECE', record.settings.objective, 'status', 'seconds', 'report'];
  const rows = [...record.results]
    .sort((a, b) => a.rung - b.rung || a.trial - b.trial)
    .map((r) =>
      [
        String(r.trial) + (front.includes(r) ? ' ★' : ''),
        // Counted from 1, as the command line says "rung 1/3" (sweep.json keeps the 0-based index).
        String(r.rung + 1),
        String(r.rounds),
        ...keys.map((k) => String(r.params[k])),
        pct(r.clean),
        pct(r.robust),
        r.ece === null ? '–' : r.ece.toFixed(3),
        r.score === null ? '–' : r.score.toFixed(4),
        r.status + (r.error ? `: ${r.error}` : ''),
        (r.durationMs / 1000).toFixed(1),
      ]
        .map((c) => `<td>${escapeHtml(c.slice(0, 300))}</td>`)
        .join('') + `<td>${r.reportPath && REPORT_PATH.test(r.reportPath) ? `<a href="${escapeHtml(r.reportPath.replace(/report\.json$/, 'report.html'))}">report</a>` : '–'}</td>`,
    );
  const s = record.settings;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedtune sweep</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.4em}h2{font-size:1.1em;margin:28px 0 6px}
table{border-collapse:collapse;font-size:.85em}th{text-align:left;padding:3px 12px 3px 0;color:#555;font-weight:500;border-bottom:1px solid #ccc}td{padding:3px 12px 3px 0}
.note{color:#666;font-size:.85em}
</style></head><body>
<h1>fedtune sweep</h1>
<p class="note">${escapeHtml(`${s.search} search, ${record.trials.length} trials, successive halving on rounds ${record.rungs.join(' → ')} (η = ${s.eta}), objective ${s.objective}, seed ${s.seed}, ${record.status}`)}</p>
<h2>Clean vs robust accuracy</h2>
<p class="note">${escapeHtml(`Each trial at its last rung; larger orange points are the Pareto front (${front.length} trials): no other trial is at least as accurate on both with one strictly better.`)}</p>
${chart}
<h2>Every trial</h2>
<table><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>
${rows.map((r) => `<tr>${r}</tr>`).join('\n')}
</table>
</body></html>
`;
}

/** Writes `<dir>/sweep.html` atomically; returns its path. */
export function writeSweepHtml(dir: string, record: SweepRecord): string {
  const path = join(dir, 'sweep.html');
  writeFileAtomic(path, renderSweepHtml(record));
  return path;
}
