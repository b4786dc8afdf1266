import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { settleRoundRecord } from '../../coordinator/src/persistence/settled-rounds.ts';
import { renderReportHtml, type ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';
import { settledRecordFragment } from '../../coordinator/src/report/settled-record-html.ts';
import { awkwardHtmlReport } from './fixtures/awkward-report-html.ts';

// report.html renders each settled round's fragments once (settled-record-html.ts, the rounds table, rejections and
// per-site training): the page must stay byte-identical to the renderer before the cache (the golden file, rendered by
// it from the same report) and to a render of the same report with nothing settled (nothing cached).

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
});
