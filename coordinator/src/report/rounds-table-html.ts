import { clipText, type RoundRecord, type RunReport } from '@fedtune/shared';
import { foldSettledPrefix } from './settled-prefix-fold.ts';
import { settledRecordFragment } from './settled-record-html.ts';
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
  const row = (r: RoundRecord) =>
    `<tr data-round="${r.round}"><td>${r.round}</td><td>${r.selected.length}</td><td>${r.accepted.length}</td><td>${r.rejected.length}</td><td>${r.failed.length}</td>${cooling ? `<td>${(r.cooling?.count ?? 0) + (r.busy?.count ?? 0)}</td>` : ''}<td>${(r.durationMs / 1000).toFixed(1)} s</td><td>${r.global.loss.toFixed(4)}</td><td>${pct(r.global.accuracy)}</td>${dp ? `<td>${epsilonText(r.privacy)}</td>` : ''}</tr>`;
  // The settled rounds' rows, joined, are kept from render to render per choice of columns (settled-prefix-fold.ts),
  // each row rendered once (settled-record-html.ts): a render adds the rows of the rounds settled since the last one
  // and renders the unsettled rest.
  const key = `rounds-row ${cooling} ${dp}`;
  const settled = foldSettledPrefix(report.rounds, key, () => '', (html, r) => html + settledRecordFragment(r, key, row));
  const rows = settled.state + report.rounds.slice(settled.settled).map(row).join('');
  const noise = report.privacy?.noise ? `<p class="note">DP noise added ${report.privacy.noise === 'distributed' ? `by the sites (distributed${report.privacy.distributed ? `: z = ${report.privacy.distributed.configuredNoiseMultiplier}, threshold ${report.privacy.distributed.threshold}, ${report.privacy.distributed.survivors} sites' noise in the last sum` : ''})` : 'by the coordinator (central)'}</p>` : '';
  return `<section><h2>Rounds</h2><table class="rounds" id="rounds">${head}${rows}</table>${noise}</section>`;
}

/**
 * The updates the coordinator refused (site, round, code, reason) and the sites whose policy refused the
 * run's terms. Every string is from a peer: clipped and escaped.
 */
export function rejectionsHtml(report: Pick<RunReport, 'rounds' | 'termsRefusals'>): string {
  // Also the sites found revealing wrong secure-aggregation shares (RoundRecord.secureAggregation). A settled
  // round's rows are rendered once (settled-record-html.ts), and the settled rounds' rows and counts kept from render
  // to render (settled-prefix-fold.ts): a render adds the rounds settled since the last one and the unsettled rest.
  const settled = foldSettledPrefix(report.rounds, 'rejections', noRejectionRows, (rows, r) => withRejectionRows(rows, settledRecordFragment(r, 'rejections', rejectionRows), r));
  const all = report.rounds.slice(settled.settled).reduce((rows, r) => withRejectionRows(rows, rejectionRows(r), r), settled.state);
  const count = (key: 'rejected' | 'failed' | 'wrongShares') => all[key].count;
  const rows = (key: 'rejected' | 'failed' | 'wrongShares') => all[key].html;
  const [rejected, failed, wrongShares] = [count('rejected'), count('failed'), count('wrongShares')];
  const notListed = all.notListed;
  const refusals = report.termsRefusals;
  if (rejected + failed + wrongShares === 0 && !refusals?.total) return '';
  const parts = ['<section><h2>Rejections</h2>'];
  if (rejected) {
    parts.push(`<p class="note">${rejected + notListed} update(s) refused by the coordinator${notListed > 0 ? `; the first ${rejected} listed` : ''}</p><table class="rejections" id="rejections"><tr><th>site</th><th>round</th><th>code</th><th>reason</th></tr>`);
    parts.push(rows('rejected'));
    parts.push('</table>');
  }
  if (failed) {
    parts.push(`<p class="note">${failed} site(s) failed a round (no update)</p><table class="failed"><tr><th>site</th><th>round</th><th>reason</th></tr>`);
    parts.push(rows('failed'));
    parts.push('</table>');
  }
  if (wrongShares) {
    parts.push(`<p class="note">${wrongShares} time(s) a site revealed secure-aggregation shares off their owners' polynomials (it revealed a wrong value, or its owner dealt it one): left out, the secrets were recovered without them; its own update stayed in the sum</p><table class="failed" id="wrong-shares"><tr><th>site</th><th>round</th></tr>`);
    parts.push(rows('wrongShares'));
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

interface RowsOf {
  count: number;
  html: string;
}

interface RejectionRows {
  rejected: RowsOf;
  failed: RowsOf;
  wrongShares: RowsOf;
}

const noRejectionRows = (): RejectionRows & { notListed: number } => ({ rejected: { count: 0, html: '' }, failed: { count: 0, html: '' }, wrongShares: { count: 0, html: '' }, notListed: 0 });

/** `rows` followed by `next`, the rows of `record` (a new value: `rows` is not changed). */
function withRejectionRows(rows: RejectionRows & { notListed: number }, next: RejectionRows, record: RoundRecord): RejectionRows & { notListed: number } {
  const join = (a: RowsOf, b: RowsOf): RowsOf => ({ count: a.count + b.count, html: a.html + b.html });
  return { rejected: join(rows.rejected, next.rejected), failed: join(rows.failed, next.failed), wrongShares: join(rows.wrongShares, next.wrongShares), notListed: rows.notListed + (record.rejectedNotListed ?? 0) };
}

/** One round's rows of the three tables of `rejectionsHtml`, and how many of each. */
function rejectionRows(r: RoundRecord): RejectionRows {
  const rejected = r.rejected.map((x) => ({ round: r.round, ...x }));
  const failed = r.failed.map((x) => ({ round: r.round, ...x }));
  const wrongShares = (r.secureAggregation?.wrongShares ?? []).map((siteId) => ({ round: r.round, siteId }));
  return {
    rejected: { count: rejected.length, html: rejected.map((x) => `<tr><td>${peerText(x.siteId)}</td><td>${x.round}</td><td>${peerText(x.code, 60)}</td><td>${peerText(x.reason)}</td></tr>`).join('') },
    failed: { count: failed.length, html: failed.map((x) => `<tr><td>${peerText(x.siteId)}</td><td>${x.round}</td><td>${peerText(x.reason)}</td></tr>`).join('') },
    wrongShares: { count: wrongShares.length, html: wrongShares.map((x) => `<tr><td>${peerText(x.siteId)}</td><td>${x.round}</td></tr>`).join('') },
  };
}
