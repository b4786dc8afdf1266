import { escapeHtml, lineChart, type Series } from './svg-charts.ts';
import { peerText } from './rounds-table-html.ts';

/** The keys whose number says how hard a row's perturbation was, in the order they are looked for. */
export const STRENGTH_KEYS = ['eps', 'budget', 'severity', 'sigma', 'rate', 'level', 'radius'] as const;

/** Report sections rendered by their own code (not as generic groups). */
const KNOWN_TOP = new Set(['schemaVersion', 'runId', 'status', 'startedAt', 'updatedAt', 'config', 'backend', 'model', 'pretrained', 'rounds', 'final', 'simulation', 'aborted', 'privacy', 'finalRobustness', 'siteReport', 'resumedAt', 'terms', 'termsRefusals', 'audit', 'dataSummaries']);
const KNOWN_ROBUSTNESS = new Set(['noise', 'corruptions', 'fgsm', 'pgd', 'square', 'worstCase', 'clean', 'warnings', 'calibration', 'certification', 'timings', 'worstCorruption']);
const MAX_GROUPS = 40;
const MAX_ROWS = 200;

export interface RobustnessRow {
  name?: string;
  strength?: { key: string; value: number };
  accuracy: number;
}

export interface RobustnessGroup {
  /** Where the group sits in the report, e.g. `textRobustness.typos`. */
  path: string;
  rows: RobustnessRow[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A row of a robustness group: an object with a finite `accuracy` in [0, 1]; undefined for anything else. */
export function robustnessRow(v: unknown): RobustnessRow | undefined {
  if (!isRecord(v) || typeof v.accuracy !== 'number' || !Number.isFinite(v.accuracy) || v.accuracy < 0 || v.accuracy > 1) return undefined;
  const key = STRENGTH_KEYS.find((k) => typeof v[k] === 'number' && Number.isFinite(v[k]));
  const name = typeof v.name === 'string' ? v.name : typeof v.attack === 'string' ? v.attack : typeof v.kind === 'string' ? v.kind : undefined;
  return { ...(name !== undefined ? { name } : {}), ...(key ? { strength: { key, value: v[key] as number } } : {}), accuracy: v.accuracy };
}

function groupOf(path: string, value: unknown): RobustnessGroup | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const rows = value.slice(0, MAX_ROWS).map(robustnessRow);
  if (rows.some((r) => r === undefined)) return undefined;
  return { path, rows: rows as RobustnessRow[] };
}

/**
 * Every robustness group in a report that no dedicated section draws: arrays of `{name?, eps|budget|
 * severity|sigma|…?, accuracy}` rows at the top level, one level inside a top-level object (e.g.
 * `textRobustness.typos`), or as extra keys of `finalRobustness`. So a new task's robustness (text noise, a
 * word-substitution attack per budget) appears in report.html without new rendering code.
 */
export function findRobustnessGroups(report: Record<string, unknown>): RobustnessGroup[] {
  const groups: RobustnessGroup[] = [];
  const add = (path: string, value: unknown) => {
    const g = groupOf(path, value);
    if (g && groups.length < MAX_GROUPS) groups.push(g);
  };
  for (const [key, value] of Object.entries(report)) {
    if (KNOWN_TOP.has(key)) continue;
    add(key, value);
    if (isRecord(value)) for (const [sub, inner] of Object.entries(value)) add(`${key}.${sub}`, inner);
  }
  if (isRecord(report.finalRobustness)) {
    for (const [key, value] of Object.entries(report.finalRobustness)) if (!KNOWN_ROBUSTNESS.has(key)) add(`finalRobustness.${key}`, value);
  }
  return groups;
}

/** One group: a table of its rows and, when the rows have a strength, accuracy against it (one line per name). */
export function robustnessGroupHtml(group: RobustnessGroup): string {
  const strengthKey = group.rows.find((r) => r.strength)?.strength?.key;
  const named = group.rows.some((r) => r.name !== undefined);
  const head = `<tr>${named ? '<th>name</th>' : ''}${strengthKey ? `<th>${escapeHtml(strengthKey)}</th>` : ''}<th>accuracy</th></tr>`;
  const rows = group.rows.map((r) => `<tr>${named ? `<td>${peerText(r.name ?? '', 80)}</td>` : ''}${strengthKey ? `<td>${r.strength ? r.strength.value : '–'}</td>` : ''}<td>${(100 * r.accuracy).toFixed(1)}%</td></tr>`).join('');
  let chart = '';
  if (strengthKey) {
    const byName = new Map<string, Array<[number, number]>>();
    for (const r of group.rows) {
      if (!r.strength) continue;
      const key = r.name ?? group.path;
      byName.set(key, [...(byName.get(key) ?? []), [r.strength.value, r.accuracy]]);
    }
    const series: Series[] = [...byName].slice(0, 8).map(([name, points]) => ({ name, points: points.sort((a, b) => a[0] - b[0]) }));
    chart = `<div class="chart">${lineChart(series, { title: `${group.path}: accuracy against ${strengthKey}`, xLabel: strengthKey, y: 'zoomed-accuracy' })}</div>`;
  }
  return `<section class="robustness-group" data-group="${escapeHtml(group.path)}"><h2>Robustness: ${peerText(group.path, 80)}</h2>${chart}<table>${head}${rows}</table></section>`;
}

/** Every generic robustness group of the report (see findRobustnessGroups), in report order. */
export function robustnessGroupsHtml(report: Record<string, unknown>): string {
  return findRobustnessGroups(report).map(robustnessGroupHtml).join('');
}
