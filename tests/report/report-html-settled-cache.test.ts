import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { settleRoundRecord } from '../../coordinator/src/persistence/settled-rounds.ts';
import { reportSkeleton } from './report-skeleton.ts';
import { renderReportHtml, type ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';
import { settledRecordFragment } from '../../coordinator/src/report/settled-record-html.ts';
import { awkwardHtmlReport } from './fixtures/awkward-report-html.ts';

// report.html renders each settled round's fragments once (settled-record-html.ts, the rounds table, rejections and
// per-site training) and keeps what the settled rounds add up to from render to render (settled-prefix-fold.ts: the
// rounds table's and the rejections' rows, every site's training curves with their extents): the page must stay
// byte-identical to the renderer before the cache (the golden file, rendered by it from the same report) and to a
// render of the same report with nothing settled (nothing cached).

const GOLDEN = readFileSync(join(import.meta.dirname, 'fixtures', 'awkward-report.golden.html'));
const bytes = (html: string) => Buffer.from(html, 'utf8');
/** The same report with no record settled: structuredClone makes unfrozen copies, which render uncached. */
const uncached = (report: ReportWithRobustness) => renderReportHtml(structuredClone(report));

/**
 * Grows `full`'s rounds into a report as the engine does (every earlier record settled before the next is pushed),
 * rendering after each round twice (the second from the cache) and checking both against the uncached render.
 */
function growAndCompare(full: ReportWithRobustness): string {
  const report = { ...full, rounds: [] as ReportWithRobustness['rounds'] };
  let html = '';
  for (const record of full.rounds) {
    for (const r of report.rounds) settleRoundRecord(r);
    report.rounds.push(record);
    html = renderReportHtml(report);
    expect(html).toBe(uncached(report));
    expect(renderReportHtml(report)).toBe(html);
  }
  return html;
}

describe('report.html with settled rounds rendered once', () => {
  it('the awkward report renders byte-identical to the golden file of the renderer before the cache, settled or not', () => {
    const report = awkwardHtmlReport(9);
    expect(bytes(renderReportHtml(report)).equals(GOLDEN)).toBe(true);
    for (const r of report.rounds.slice(0, -1)) settleRoundRecord(r);
    expect(bytes(renderReportHtml(report)).equals(GOLDEN)).toBe(true);
    expect(bytes(renderReportHtml(report)).equals(GOLDEN)).toBe(true);
    for (const r of report.rounds) settleRoundRecord(r);
    expect(bytes(renderReportHtml(report)).equals(GOLDEN)).toBe(true);
  });

  it('grown round by round, every render equals the uncached one, and the last the golden file', () => {
    expect(bytes(growAndCompare(awkwardHtmlReport(9))).equals(GOLDEN)).toBe(true);
  });

  it('columns that appear only with a later round (ε, sat out) and sections that start late re-render the cached rows right', () => {
    const full = awkwardHtmlReport(8, 14);
    for (const r of full.rounds.slice(0, 4) as Array<Partial<RoundRecord> & { robustness?: unknown }>) {
      delete r.privacy;
      delete r.cooling;
      delete r.busy;
      delete r.secureAggregation;
      delete r.robustness;
      r.rejected = [];
      r.failed = [];
    }
    growAndCompare(full);
  });

  it('one site, no accepted update, or no rounds at all', () => {
    const one = awkwardHtmlReport(5, 1);
    growAndCompare(one);
    const none = awkwardHtmlReport(3, 4);
    for (const r of none.rounds) r.accepted = [];
    growAndCompare(none);
    expect(renderReportHtml(awkwardHtmlReport(0))).toBe(uncached(awkwardHtmlReport(0)));
  });

  it('two reports sharing settled records (the writer\'s snapshots) and a report whose earlier records are replaced render right', () => {
    const full = awkwardHtmlReport(6);
    growAndCompare(full);
    const snapshot = { ...full, rounds: full.rounds.slice(0, 4) };
    expect(renderReportHtml(snapshot)).toBe(uncached(snapshot));
    // A resumed run's records are new objects (decoded from its checkpoint), settled anew.
    const resumed = { ...full, rounds: structuredClone(full.rounds) };
    resumed.rounds[1].durationMs = 99_999;
    for (const r of resumed.rounds) settleRoundRecord(r);
    expect(renderReportHtml(resumed)).toBe(uncached(resumed));
    expect(renderReportHtml(resumed)).toContain('<td>100.0 s</td>');
  });

  it('a settled record\'s fragment is rendered once per key; an unsettled one\'s every time', () => {
    const [settled, open] = awkwardHtmlReport(2).rounds;
    settleRoundRecord(settled);
    const calls: RoundRecord[] = [];
    const render = (r: RoundRecord) => (calls.push(r), `<tr>${r.round}</tr>`);
    for (let i = 0; i < 3; i++) {
      expect(settledRecordFragment(settled, 'a', render)).toBe('<tr>1</tr>');
      expect(settledRecordFragment(settled, 'b', render)).toBe('<tr>1</tr>');
      expect(settledRecordFragment(open, 'a', render)).toBe('<tr>2</tr>');
    }
    expect(calls.filter((r) => r === settled)).toHaveLength(2);
    expect(calls.filter((r) => r === open)).toHaveLength(3);
  });

  it('a long run past the charts\' bound, sites appearing and leaving and the drawn ones changing, renders as uncached at every checked round', () => {
    const full = longRun(400);
    const report = { ...full, rounds: [] as ReportWithRobustness['rounds'] };
    const checked = new Set([1, 2, 3, 60, 149, 150, 151, 152, 199, 200, 201, 263, 300, 301, 350, 399, 400]);
    for (const record of full.rounds) {
      for (const r of report.rounds) settleRoundRecord(r);
      report.rounds.push(record);
      const html = renderReportHtml(report);
      if (!checked.has(report.rounds.length)) continue;
      expect(html, `round ${report.rounds.length}`).toBe(uncached(report));
      // The writer's snapshot of the same run (a new rounds array, the same records) renders from the same folds.
      expect(renderReportHtml({ ...report, rounds: report.rounds.slice() }), `snapshot at round ${report.rounds.length}`).toBe(html);
    }
    const html = renderReportHtml(report);
    expect(html).toContain('<p class="note thinned">');
    expect(html).toContain('10 of 16 sites drawn');
    // A site that left at round 120 and one that joined at round 200 are both in the per-site table.
    expect(html).toMatch(/<tr><td>gone-early<\/td><td>\d+<\/td>/);
    expect(html).toMatch(/<tr><td>late-joiner<\/td><td>\d+<\/td>/);
  });

  it('renders several rounds settled at once, a shorter snapshot after a longer one, and a render with nothing new, as uncached', () => {
    const report = longRun(330);
    for (const r of report.rounds.slice(0, 170)) settleRoundRecord(r);
    expect(renderReportHtml(report)).toBe(uncached(report));
    for (const r of report.rounds.slice(0, 320)) settleRoundRecord(r);
    expect(renderReportHtml(report)).toBe(uncached(report));
    expect(renderReportHtml(report)).toBe(uncached(report));
    const shorter = { ...report, rounds: report.rounds.slice(0, 240) };
    expect(renderReportHtml(shorter)).toBe(uncached(shorter));
    expect(renderReportHtml(report)).toBe(uncached(report));
  });

  it('follows a change to an unsettled record between renders, even among settled ones (nothing after it is taken as settled)', () => {
    const report = longRun(260);
    // Settled before and after round 200: round 200 is not, so it and every round after it are rendered anew.
    for (const [i, r] of report.rounds.entries()) if (i !== 199 && i < 255) settleRoundRecord(r);
    const before = renderReportHtml(report);
    expect(before).toBe(uncached(report));
    const open = report.rounds[199];
    open.accepted[0].loss = 123.456;
    open.accepted[1].accuracy = 0.001;
    open.accepted.push({ siteId: 'only-in-round-200', numExamples: 1, loss: 0.5, accuracy: 0.5, durationMs: 1 });
    open.global.accuracy = 0.0042;
    open.rejected.push({ siteId: 'refused-late', code: 'update_norm', reason: 'changed after a render' });
    const after = renderReportHtml(report);
    expect(after).not.toBe(before);
    expect(after).toBe(uncached(report));
    expect(after).toContain('only-in-round-200');
    expect(after).toContain('refused-late');
    expect(after).toContain('123.4560 at 200');
    // The last record, unsettled, changed too.
    report.rounds.at(-1)!.accepted[0].accuracy = 0.999;
    expect(renderReportHtml(report)).toBe(uncached(report));
  });

  it('a report that is not the same run (its records decoded anew) does not reuse another\'s folds', () => {
    const report = longRun(220);
    for (const r of report.rounds) settleRoundRecord(r);
    const html = renderReportHtml(report);
    const other = { ...report, rounds: structuredClone(report.rounds) };
    other.rounds[10].accepted[0].loss = 9.875;
    other.rounds[11].durationMs = 77_777;
    other.rounds[12].rejected = [{ siteId: 'other-run', code: 'x', reason: 'y' }];
    for (const r of other.rounds) settleRoundRecord(r);
    const otherHtml = renderReportHtml(other);
    expect(otherHtml).toBe(uncached(other));
    expect(otherHtml).not.toBe(html);
    expect(renderReportHtml(report)).toBe(html);
    // Sharing the last settled record is not enough: an earlier record replaced means the folds kept under it are not
    // this report's.
    const patched = { ...report, rounds: report.rounds.slice() };
    const replaced = structuredClone(report.rounds[30]);
    replaced.accepted[0].loss = 6.5;
    replaced.durationMs = 55_555;
    replaced.rejected = [{ siteId: 'patched-run', code: 'x', reason: 'y' }];
    settleRoundRecord(replaced);
    patched.rounds[30] = replaced;
    expect(renderReportHtml(patched)).toBe(uncached(patched));
    expect(renderReportHtml(patched)).toContain('patched-run');
    expect(renderReportHtml(report)).toBe(html);
  });
});

/**
 * A report of `rounds` rounds of 16 sites whose training metrics vary, so the drawn sites (the lowest and highest last
 * accuracies) change from round to round: a site that leaves after round 120, one that joins at round 200, one absent
 * every third round, a non-finite loss or accuracy now and then, a site twice in a round, rejections and failures.
 */
function longRun(rounds: number): ReportWithRobustness {
  const ids = [...Array.from({ length: 14 }, (_, i) => `site-${i + 1}`), 'gone-early', 'late-joiner'];
  const record = (n: number): RoundRecord => {
    const present = ids.filter((id, i) => (id === 'gone-early' ? n <= 120 : id === 'late-joiner' ? n >= 200 : id !== 'site-3' || n % 3 !== 0) && (i + n) % 11 !== 0);
    const accepted = present.map((siteId, i) => ({
      siteId,
      numExamples: 40 + i,
      loss: (i * n) % 37 === 5 ? Number.NaN : 0.4 + ((i * 13 + n * 7) % 29) / 40,
      accuracy: (i + n) % 23 === 0 ? Number.POSITIVE_INFINITY : 0.5 + ((i * 17 + n * 5) % 41) / 100,
      durationMs: 5,
    }));
    if (n % 7 === 0) accepted.push({ ...accepted[0], loss: 0.05 + n / 10_000, accuracy: 0.99 });
    return {
      round: n,
      durationMs: 1000 + n,
      attempts: 1,
      selected: [...ids],
      accepted,
      rejected: n % 5 === 0 ? [{ siteId: ids[n % ids.length], code: 'update_norm', reason: `too large at round ${n}` }] : [],
      failed: n % 9 === 0 ? [{ siteId: ids[(n + 1) % ids.length], reason: 'timeout' }] : [],
      bytesDown: 1,
      bytesUp: 1,
      global: { accuracy: n === 263 ? Number.NaN : 0.6 + 0.1 * Math.sin(n / 5), loss: 1 + 0.5 * Math.cos(n / 5) },
      modelDir: `models/round-${n}`,
    } as RoundRecord;
  };
  return reportSkeleton('long-run', rounds, record);
}
