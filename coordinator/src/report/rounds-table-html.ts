import { clipText, type RunReport } from '@fedtune/shared';
import { escapeHtml } from './svg-charts.ts';

/** Longest rejection reason quoted in report.html (reasons come from peers). */
export const MAX_REASON_CHARS = 200;

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(1)}%`);
/** Bounded and HTML-escaped: every string of the report that reached it from a peer goes through this. */
export const peerText = (s: unknown, max = MAX_REASON_CHARS) => escapeHtml(clipText(s, max));

/** ε spent after a round of a DP run: '∞' when unbounded (no noise), '–' without DP. */
export function epsilonText(privacy: RunReport['rounds'][number]['privacy']): string {
  if (!privacy) return '–';
  return Number.isFinite(privacy.epsilon) ? privacy.epsilon.toFixed(3) : '∞';
}

/**
 * report.html's rounds table: one row per round with the sites selected / accepted / rejected (counts),
 * its duration, the global loss and accuracy and the ε spent so far (DP runs; a column only then), and the
 * joined sites that sat the round out after giving no answer (`cooling`) or still training a fit the quorum wait
 * cut off (`busy`; one column, only when some round had them).
 */
export function roundsTableHtml(report: Pick<RunReport, 'rounds' | 'privacy'>): string {
  if (report.rounds.length === 0) return '';
  const dp = report.rounds.some((r) => r.privacy);
  const delta = report.rounds.find((r) => r.privacy)?.privacy?.delta;
  const cooling = report.rounds.some((r) => r.cooling || r.busy);
  const head = `<tr><th>round</th><th>selected</th><th>accepted</th><th>rejected</th><th>failed</th>${cooling ? '<th title="joined sites not sampled: they gave no answer in an earlier round (stragglers.maxCooldownRounds), or are still training a fit the quorum wait cut off (stragglers.waitAfterQuorumMs)">sat out</th>' : ''}<th>duration</th><th>loss</th><th>accuracy</th>${dp ? `<th>ε (δ = ${delta})</th>` : ''}</tr>`;
  const rows = report.rounds
    .map((r) => `<tr data-round="${r.round}"><td>${r.round}</td><td>${r.selected.length}</td><td>${r.accepted.length}</td><td>${r.rejected.length}</td><td>${r.failed.length}</td>${cooling ? `<td>${(r.cooling?.count ?? 0) + (r.busy?.count ?? 0)}</td>` : ''}<td>${(r.durationMs / 1000).toFixed(1)} s</td><td>${r.global.loss.toFixed(4)}</td><td>${pct(r.global.accuracy)}</td>${dp ? `<td>${epsilonText(r.privacy)}</td>` : ''}</tr>`)
    .join('');
  const noise = report.privacy?.noise ? `<p class="note">DP noise added ${report.privacy.noise === 'distributed' ? `by the sites (distributed${report.privacy.distributed ? `: z = ${report.privacy.distributed.configuredNoiseMultiplier}, threshold ${report.privacy.distributed.threshold}, ${report.privacy.distributed.survivors} sites' noise in the last sum` : ''})` : 'by the coordinator (central)'}</p>` : '';
  return `<section><h2>Rounds</h2><table class="rounds" id="rounds">${head}${rows}</table>${noise}</section>`;
}

/**
 * The updates the coordinator refused (site, round, code, reason) and the sites whose policy refused the
 * run's terms. Every string is from a peer: clipped and escaped.
 */
export function rejectionsHtml(report: Pick<RunReport, 'rounds' | 'termsRefusals'>): string {
  // Also the sites found revealing wrong secure-aggregation shares (RoundRecord.secureAggregation).
  const rejected = report.rounds.flatMap((r) => r.rejected.map((x) => ({ round: r.round, ...x })));
  const notListed = report.rounds.reduce((n, r) => n + (r.rejectedNotListed ?? 0), 0);
  const failed = report.rounds.flatMap((r) => r.failed.map((x) => ({ round: r.round, ...x })));
  const refusals = report.termsRefusals;
  const wrongShares = report.rounds.flatMap((r) => (r.secureAggregation?.wrongShares ?? []).map((siteId) => ({ round: r.round, siteId })));
  if (rejected.length + failed.length + wrongShares.length === 0 && !refusals?.total) return '';
  const parts = ['<section><h2>Rejections</h2>'];
  if (rejected.length) {
    parts.push(`<p class="note">${rejected.length + notListed} update(s) refused by the coordinator${notListed > 0 ? `; the first ${rejected.length} listed` : ''}</p><table class="rejections" id="rejections"><tr><th>site</th><th>round</th><th>code</th><th>reason</th></tr>`);
    for (const x of rejected) parts.push(`<tr><td>${peerText(x.siteId)}</td><td>${x.round}</td><td>${peerText(x.code, 60)}</td><td>${peerText(x.reason)}</td></tr>`);
    parts.push('</table>');
  }
  if (failed.length) {
    parts.push(`<p class="note">${failed.length} site(s) failed a round (no update)</p><table class="failed"><tr><th>site</th><th>round</th><th>reason</th></tr>`);
    for (const x of failed) parts.push(`<tr><td>${peerText(x.siteId)}</td><td>${x.round}</td><td>${peerText(x.reason)}</td></tr>`);
    parts.push('</table>');
  }
  if (wrongShares.length) {
    parts.push(`<p class="note">${wrongShares.length} time(s) a site revealed secure-aggregation shares off their owners' polynomials (it revealed a wrong value, or its owner dealt it one): left out, the secrets were recovered without them; its own update stayed in the sum</p><table class="failed" id="wrong-shares"><tr><th>site</th><th>round</th></tr>`);
    for (const x of wrongShares) parts.push(`<tr><td>${peerText(x.siteId)}</td><td>${x.round}</td></tr>`);
    parts.push('</table>');
  }
  if (refusals?.total) {
    parts.push(`<p class="note">${refusals.total} site(s) refused the run's terms (their policy)${refusals.total > refusals.sites.length ? `; the first ${refusals.sites.length} listed` : ''}</p><table class="terms-refusals" id="terms-refusals"><tr><th>site</th><th>when</th><th>reason</th></tr>`);
    for (const x of refusals.sites) parts.push(`<tr><td>${peerText(x.siteId)}</td><td>${peerText(x.at, 40)}</td><td>${peerText(x.reason)}</td></tr>`);
    parts.push('</table>');
  }
  parts.push('</section>');
  return parts.join('');
}
