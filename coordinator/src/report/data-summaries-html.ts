import type { RunReport } from '@fedtune/shared';
import { peerText } from './rounds-table-html.ts';

/** Most feature names report.html quotes per site (the report keeps what the site sent, itself bounded). */
export const MAX_SHOWN_FEATURE_NAMES = 20;

const labels = (counts: readonly number[]) => counts.map((c, i) => `${i}:${c}`).join(' ');

/**
 * report.html's "Data summaries" section (docs/data.md#sharing-the-data-summary): the totals over every
 * site that shared one, then one row per listed site. Counts only; site ids and feature names come from
 * peers and are clipped and escaped.
 */
export function dataSummariesHtml(report: Pick<RunReport, 'dataSummaries'>): string {
  const d = report.dataSummaries;
  if (!d || d.total.sites === 0) return '';
  const t = d.total;
  const listed = d.total.sites > d.sites.length ? `; the first ${d.sites.length} listed` : '';
  const rows = d.sites.map((s) => {
    const names = s.featureNames ? `${s.featureNames.slice(0, MAX_SHOWN_FEATURE_NAMES).map((n) => peerText(n, 40)).join(', ')}${s.featureNames.length > MAX_SHOWN_FEATURE_NAMES ? ', …' : ''}` : '–';
    return `<tr><td>${peerText(s.siteId)}</td><td>${s.examples}</td><td>${s.duplicatesDropped}</td><td>${s.missingImputed}</td><td>${s.constantFeatures}</td><td>${labels(s.labelCounts)}</td><td>${names}</td></tr>`;
  });
  return [
    '<section><h2>Data summaries</h2>',
    `<p class="note">${t.sites} site(s) shared their data check's counts${listed}: ${t.examples} examples, ${t.duplicatesDropped} duplicates dropped, ${t.missingImputed} missing values imputed; labels ${labels(t.labelCounts)}</p>`,
    '<table class="data-summaries" id="data-summaries"><tr><th>site</th><th>examples</th><th>duplicates dropped</th><th>missing imputed</th><th>constant features</th><th>examples per label</th><th>feature names</th></tr>',
    `<tr class="total"><td>all ${t.sites}</td><td>${t.examples}</td><td>${t.duplicatesDropped}</td><td>${t.missingImputed}</td><td>${t.constantFeatures}</td><td>${labels(t.labelCounts)}</td><td></td></tr>`,
    ...rows,
    '</table></section>',
  ].join('');
}
