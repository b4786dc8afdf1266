import type { RoundRecord, RunReport } from '@fedtune/shared';
import { settledPrefixLength } from '../persistence/settled-rounds.ts';
import { lineChart, type Series } from './svg-charts.ts';
import { peerText } from './rounds-table-html.ts';
import { compareSiteIds } from './compare-site-ids.ts';
import { settledRecordFragment } from './settled-record-html.ts';
import { MAX_POINTS_PER_LINE, thinnedChartNote } from './thin-series.ts';

/** Most sites drawn per per-site chart: the worst and best by their last training accuracy, half each. */
export const MAX_SITE_LINES = 10;

export interface SiteTrainingCurve {
  siteId: string;
  /** [round, value] for each round the site's update was accepted. */
  loss: Array<[number, number]>;
  accuracy: Array<[number, number]>;
}

/** Each site's own training loss and accuracy per round (from `rounds[].accepted`), sorted by site id. */
export function siteTrainingCurves(report: Pick<RunReport, 'rounds'>): SiteTrainingCurve[] {
  const bySite = new Map<string, SiteTrainingCurve>();
  for (const r of report.rounds) {
    for (const a of r.accepted) {
      let c = bySite.get(a.siteId);
      if (!c) bySite.set(a.siteId, (c = { siteId: a.siteId, loss: [], accuracy: [] }));
      if (Number.isFinite(a.loss)) c.loss.push([r.round, a.loss]);
      if (Number.isFinite(a.accuracy)) c.accuracy.push([r.round, a.accuracy]);
    }
  }
  return [...bySite.values()].sort((a, b) => compareSiteIds(a.siteId, b.siteId));
}

/**
 * The sites a chart draws when there are more than `max`: the ⌈max/2⌉ with the lowest last accuracy and the
 * ⌊max/2⌋ with the highest (ties by site id), so the spread stays visible with 20+ sites.
 */
export function sitesToDraw(curves: SiteTrainingCurve[], max = MAX_SITE_LINES): SiteTrainingCurve[] {
  return pickSitesToDraw(curves, (c) => c.accuracy.at(-1)?.[1] ?? -1, max);
}

function pickSitesToDraw<T extends { siteId: string }>(sites: T[], last: (site: T) => number, max = MAX_SITE_LINES): T[] {
  if (sites.length <= max) return sites;
  const sorted = [...sites].sort((a, b) => last(a) - last(b) || compareSiteIds(a.siteId, b.siteId));
  const worst = Math.ceil(max / 2);
  return [...sorted.slice(0, worst), ...sorted.slice(sorted.length - (max - worst))];
}

/**
 * What the page shows of a site besides the drawn curves: how many finite losses and accuracies it reported and the
 * last of each (`siteTrainingCurves`' arrays' lengths and last points).
 */
interface SiteLast {
  siteId: string;
  losses: number;
  lastLoss?: number;
  accuracies: number;
  lastAccuracy?: number;
}

function addRound(sites: Map<string, SiteLast>, r: RoundRecord): void {
  for (const a of r.accepted) {
    let s = sites.get(a.siteId);
    if (!s) sites.set(a.siteId, (s = { siteId: a.siteId, losses: 0, accuracies: 0 }));
    if (Number.isFinite(a.loss)) {
      s.losses++;
      s.lastLoss = a.loss;
    }
    if (Number.isFinite(a.accuracy)) {
      s.accuracies++;
      s.lastAccuracy = a.accuracy;
    }
  }
}

const copyOf = (sites: Map<string, SiteLast>) => new Map([...sites].map(([id, s]) => [id, { ...s }]));

/**
 * The sites after a run's settled rounds, kept under the last of them with the records they fold (checked by
 * identity), so each render folds only the rounds settled since the last one, and the unsettled rest: a render costs
 * O(sites), not O(rounds × sites). Only the newest fold of a run is kept; never changed once kept.
 */
const folds = new WeakMap<object, { records: RoundRecord[]; sites: Map<string, SiteLast> }>();

/** Every site's `SiteLast`, in order of first appearance (as `siteTrainingCurves` before its sort). */
function sitesAfter(rounds: readonly RoundRecord[]): Map<string, SiteLast> {
  const settled = settledPrefixLength(rounds);
  let fold: { records: RoundRecord[]; sites: Map<string, SiteLast> } | undefined;
  for (let k = settled - 1; k >= 0 && !fold; k--) {
    const f = folds.get(rounds[k]);
    if (f && f.records.length === k + 1 && f.records.every((r, i) => r === rounds[i])) fold = f;
  }
  let sites = fold?.sites ?? new Map<string, SiteLast>();
  const from = fold?.records.length ?? 0;
  if (from < settled) {
    sites = copyOf(sites);
    for (let i = from; i < settled; i++) addRound(sites, rounds[i]);
    if (fold) folds.delete(fold.records[from - 1]);
    folds.set(rounds[settled - 1], { records: rounds.slice(0, settled), sites });
  }
  if (settled === rounds.length) return sites;
  const all = copyOf(sites);
  for (let i = settled; i < rounds.length; i++) addRound(all, rounds[i]);
  return all;
}

/** A round's accepted entries by site (rendered once for a settled round), to draw a few sites' curves without the rest. */
function acceptedBySite(r: RoundRecord): Map<string, RoundRecord['accepted']> {
  const bySite = new Map<string, RoundRecord['accepted']>();
  for (const a of r.accepted) {
    const list = bySite.get(a.siteId);
    if (list) list.push(a);
    else bySite.set(a.siteId, [a]);
  }
  return bySite;
}

/** The curve of one site (as `siteTrainingCurves` gives it), from each round's entries by site (`acceptedBySite`). */
function curveOf(siteId: string, rounds: readonly RoundRecord[], bySite: ReadonlyArray<Map<string, RoundRecord['accepted']>>): SiteTrainingCurve {
  const c: SiteTrainingCurve = { siteId, loss: [], accuracy: [] };
  for (const [i, r] of rounds.entries()) {
    for (const a of bySite[i].get(siteId) ?? []) {
      if (Number.isFinite(a.loss)) c.loss.push([r.round, a.loss]);
      if (Number.isFinite(a.accuracy)) c.accuracy.push([r.round, a.accuracy]);
    }
  }
  return c;
}

/**
 * report.html's per-site training curves: loss and accuracy per round, one line per site (at most MAX_SITE_LINES), each
 * line drawn with at most MAX_POINTS_PER_LINE of its points (thin-series.ts) and a note under a chart that thinned.
 * The same page as from `siteTrainingCurves`, without going through every site's entry of every round: the table
 * needs each site's counts and last values (`sitesAfter`, O(sites) a render), the charts only the drawn sites' points
 * (O(rounds) for each of at most MAX_SITE_LINES sites, of which each line draws at most MAX_POINTS_PER_LINE).
 */
export function siteTrainingHtml(report: Pick<RunReport, 'rounds'>): string {
  const sites = [...sitesAfter(report.rounds).values()].sort((a, b) => compareSiteIds(a.siteId, b.siteId));
  if (sites.length === 0) return '';
  const bySite = report.rounds.map((r) => settledRecordFragment(r, 'accepted-by-site', acceptedBySite));
  const drawn = pickSitesToDraw(sites, (s) => s.lastAccuracy ?? -1).map((s) => curveOf(s.siteId, report.rounds, bySite));
  const series = (key: 'loss' | 'accuracy'): Series[] => drawn.map((c) => ({ name: c.siteId, points: c[key] }));
  const note = `each site's own training metrics on its local data, reported with its update (accepted updates only)${drawn.length < sites.length ? `; ${drawn.length} of ${sites.length} sites drawn: the ${Math.ceil(MAX_SITE_LINES / 2)} lowest and ${Math.floor(MAX_SITE_LINES / 2)} highest last accuracy` : ''}`;
  const table = `<table class="site-training"><tr><th>site</th><th>accepted rounds</th><th>last loss</th><th>last accuracy</th></tr>${sites
    .map((s) => `<tr><td>${peerText(s.siteId)}</td><td>${s.losses}</td><td>${s.lastLoss?.toFixed(4) ?? '–'}</td><td>${s.accuracies ? `${(100 * s.lastAccuracy!).toFixed(1)}%` : '–'}</td></tr>`)
    .join('')}</table>`;
  const chart = (key: 'loss' | 'accuracy', title: string, y: 'number' | 'zoomed-accuracy') =>
    `<div class="chart">${lineChart(series(key), { title, xLabel: 'round', y, maxPointsPerLine: MAX_POINTS_PER_LINE })}</div>${thinnedChartNote(series(key))}`;
  return `<section id="site-training"><h2>Per-site training</h2><p class="note">${note}</p>${chart('loss', 'per-site training loss', 'number')}${chart('accuracy', 'per-site training accuracy', 'zoomed-accuracy')}${table}</section>`;
}
