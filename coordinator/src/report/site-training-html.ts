import type { RunReport } from '@fedtune/shared';
import { lineChart, type Series } from './svg-charts.ts';
import { peerText } from './rounds-table-html.ts';
import { compareSiteIds } from './compare-site-ids.ts';

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
  if (curves.length <= max) return curves;
  const last = (c: SiteTrainingCurve) => c.accuracy.at(-1)?.[1] ?? -1;
  const sorted = [...curves].sort((a, b) => last(a) - last(b) || compareSiteIds(a.siteId, b.siteId));
  const worst = Math.ceil(max / 2);
  return [...sorted.slice(0, worst), ...sorted.slice(sorted.length - (max - worst))];
}

/** report.html's per-site training curves: loss and accuracy per round, one line per site (at most MAX_SITE_LINES). */
export function siteTrainingHtml(report: Pick<RunReport, 'rounds'>): string {
  const curves = siteTrainingCurves(report);
  if (curves.length === 0) return '';
  const drawn = sitesToDraw(curves);
  const series = (key: 'loss' | 'accuracy'): Series[] => drawn.map((c) => ({ name: c.siteId, points: c[key] }));
  const note = `each site's own training metrics on its local data, reported with its update (accepted updates only)${drawn.length < curves.length ? `; ${drawn.length} of ${curves.length} sites drawn: the ${Math.ceil(MAX_SITE_LINES / 2)} lowest and ${Math.floor(MAX_SITE_LINES / 2)} highest last accuracy` : ''}`;
  const table = `<table class="site-training"><tr><th>site</th><th>accepted rounds</th><th>last loss</th><th>last accuracy</th></tr>${curves
    .map((c) => `<tr><td>${peerText(c.siteId)}</td><td>${c.loss.length}</td><td>${c.loss.at(-1)?.[1].toFixed(4) ?? '–'}</td><td>${c.accuracy.length ? `${(100 * c.accuracy.at(-1)![1]).toFixed(1)}%` : '–'}</td></tr>`)
    .join('')}</table>`;
  return `<section id="site-training"><h2>Per-site training</h2><p class="note">${note}</p><div class="chart">${lineChart(series('loss'), { title: 'per-site training loss', xLabel: 'round', y: 'number' })}</div><div class="chart">${lineChart(series('accuracy'), { title: 'per-site training accuracy', xLabel: 'round', y: 'zoomed-accuracy' })}</div>${table}</section>`;
}
