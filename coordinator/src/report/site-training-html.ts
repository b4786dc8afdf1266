import type { RunReport } from '@fedtune/shared';
import { columnLineChart, type ColumnSeries } from './svg-charts.ts';
import { peerText } from './rounds-table-html.ts';
import { compareSiteIds } from './compare-site-ids.ts';
import { PointColumns } from './point-columns.ts';
import { siteCurvesAfter, type SiteCurveColumns } from './settled-site-curves.ts';
import { MAX_POINTS_PER_LINE, thinnedIndices, thinnedNote } from './thin-series.ts';

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

function siteLast(settled: SiteCurveColumns | undefined, unsettled: SiteCurveColumns | undefined): SiteLast {
  return {
    siteId: (settled ?? unsettled)!.siteId,
    losses: (settled?.loss.length ?? 0) + (unsettled?.loss.length ?? 0),
    lastLoss: unsettled?.loss.lastY ?? settled?.loss.lastY,
    accuracies: (settled?.accuracy.length ?? 0) + (unsettled?.accuracy.length ?? 0),
    lastAccuracy: unsettled?.accuracy.lastY ?? settled?.accuracy.lastY,
  };
}

/**
 * report.html's per-site training curves: loss and accuracy per round, one line per site (at most MAX_SITE_LINES), each
 * line drawn with at most MAX_POINTS_PER_LINE of its points (thin-series.ts) and a note under a chart that thinned.
 * The same page as from `siteTrainingCurves`, without going through every site's entry of every round: every site's
 * curves over the settled rounds are kept from render to render as columns with their extents
 * (settled-site-curves.ts), so a render folds only the rounds settled since the previous one and the unsettled rest;
 * the table needs each site's counts and last values (O(sites)), and the charts read the drawn sites' points only to
 * thin them and to merge their rounds for the x ticks (`columnLineChart`).
 */
export function siteTrainingHtml(report: Pick<RunReport, 'rounds'>): string {
  const curves = siteCurvesAfter(report.rounds);
  const ids = [...curves.settled.keys(), ...[...curves.unsettled.keys()].filter((id) => !curves.settled.has(id))];
  const sites = ids.map((id) => siteLast(curves.settled.get(id), curves.unsettled.get(id))).sort((a, b) => compareSiteIds(a.siteId, b.siteId));
  if (sites.length === 0) return '';
  const drawn = pickSitesToDraw(sites, (s) => s.lastAccuracy ?? -1).map(({ siteId }) => {
    const [settled, unsettled] = [curves.settled.get(siteId), curves.unsettled.get(siteId)];
    const line = (key: 'loss' | 'accuracy') => (settled ? PointColumns.joined(settled[key], unsettled?.[key]) : unsettled![key]);
    return { siteId, loss: line('loss'), accuracy: line('accuracy') };
  });
  const series = (key: 'loss' | 'accuracy'): ColumnSeries[] => drawn.map((c) => ({ name: c.siteId, points: c[key] }));
  const note = `each site's own training metrics on its local data, reported with its update (accepted updates only)${drawn.length < sites.length ? `; ${drawn.length} of ${sites.length} sites drawn: the ${Math.ceil(MAX_SITE_LINES / 2)} lowest and ${Math.floor(MAX_SITE_LINES / 2)} highest last accuracy` : ''}`;
  const table = `<table class="site-training"><tr><th>site</th><th>accepted rounds</th><th>last loss</th><th>last accuracy</th></tr>${sites
    .map((s) => `<tr><td>${peerText(s.siteId)}</td><td>${s.losses}</td><td>${s.lastLoss?.toFixed(4) ?? '–'}</td><td>${s.accuracies ? `${(100 * s.lastAccuracy!).toFixed(1)}%` : '–'}</td></tr>`)
    .join('')}</table>`;
  const chart = (key: 'loss' | 'accuracy', title: string, y: 'number' | 'zoomed-accuracy') => {
    const lines = series(key);
    const longest = Math.max(0, ...lines.map((l) => l.points.length));
    const note = thinnedNote(longest, lines.length, () => thinnedIndices(lines[0].points.length, (i) => lines[0].points.ys[i], MAX_POINTS_PER_LINE)?.length ?? longest);
    return `<div class="chart">${columnLineChart(lines, { title, xLabel: 'round', y, maxPointsPerLine: MAX_POINTS_PER_LINE })}</div>${note}`;
  };
  return `<section id="site-training"><h2>Per-site training</h2><p class="note">${note}</p>${chart('loss', 'per-site training loss', 'number')}${chart('accuracy', 'per-site training accuracy', 'zoomed-accuracy')}${table}</section>`;
}
