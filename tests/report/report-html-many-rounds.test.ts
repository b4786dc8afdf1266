import { describe, expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { settleRoundRecord } from '../../coordinator/src/persistence/settled-rounds.ts';
import { renderReportHtml, type ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';
import { MAX_POINTS_PER_LINE } from '../../coordinator/src/report/thin-series.ts';
import { reportSkeleton } from './report-skeleton.ts';

// report.html of a run of many rounds: its per-round charts (accuracy, loss, per-site training loss and accuracy) draw
// at most MAX_POINTS_PER_LINE points per line, keep each line's first, last, best and worst round, and say so under
// the chart; the rounds table still lists every round.

const SITES = Array.from({ length: 12 }, (_, i) => `site-${i + 1}`);
const BEST_ROUND = 237;
const WORST_ROUND = 311;

function record(n: number): RoundRecord {
  const global = n === BEST_ROUND ? { accuracy: 0.97, loss: 0.0123 } : n === WORST_ROUND ? { accuracy: 0.12, loss: 4.5678 } : { accuracy: 0.6 + 0.1 * Math.sin(n / 5), loss: 1 + 0.5 * Math.cos(n / 5) };
  return {
    round: n,
    durationMs: 1000,
    attempts: 1,
    selected: [...SITES],
    accepted: SITES.map((siteId, i) => ({
      siteId,
      numExamples: 40,
      loss: siteId === 'site-1' && n === BEST_ROUND ? 7.25 : 0.5 + i / 100 + 0.2 * Math.sin(n / 3),
      accuracy: siteId === 'site-1' && n === WORST_ROUND ? 0.015 : 0.5 + i / 50 + 0.05 * Math.sin(n / 3),
      durationMs: 5,
    })),
    rejected: [],
    failed: [],
    bytesDown: 1,
    bytesUp: 1,
    global,
    modelDir: `models/round-${n}`,
  } as RoundRecord;
}

const reportOf = (rounds: number): ReportWithRobustness => reportSkeleton('many-rounds', rounds, record);

const CHARTS = ['accuracy per round', 'loss per round', 'per-site training loss', 'per-site training accuracy'];

/** A chart's SVG by its title, and the HTML right after it up to the next chart or section. */
function chart(html: string, title: string): { svg: string; after: string } {
  const start = html.indexOf(`aria-label="${title}"`);
  expect(start, title).toBeGreaterThan(0);
  const end = html.indexOf('</svg>', start) + '</svg>'.length;
  const next = html.slice(end).search(/<div class="chart">|<section|<footer/);
  return { svg: html.slice(start, end), after: html.slice(end, end + next) };
}
const pointsPerLine = (svg: string) => [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
const dots = (svg: string) => svg.match(/<circle /g)?.length ?? 0;
const NOTE = 'class="note thinned"';

describe('report.html of many rounds', () => {
  const rounds = 400;
  const html = renderReportHtml(reportOf(rounds));

  it.each(CHARTS)('%s: at most MAX_POINTS_PER_LINE points per line, and the note under it', (title) => {
    const { svg, after } = chart(html, title);
    const lines = pointsPerLine(svg);
    expect(lines.length).toBeGreaterThan(0);
    for (const n of lines) expect(n).toBeLessThanOrEqual(MAX_POINTS_PER_LINE);
    expect(dots(svg)).toBe(lines.reduce((a, b) => a + b, 0));
    expect(after).toContain(NOTE);
    expect(after).toMatch(title.startsWith('per-site') ? new RegExp(`drawn with at most ${MAX_POINTS_PER_LINE} points per line, of up to ${rounds} rounds`) : new RegExp(`drawn with \\d+ of ${rounds + 1} rounds`));
  });

  it('keeps each line\'s first (the pretrained model), last, best and worst round', () => {
    const accuracy = chart(html, 'accuracy per round').svg;
    for (const tip of ['clean: 55.0% at 0', `at ${rounds}</title>`, `clean: 97.0% at ${BEST_ROUND}</title>`, `clean: 12.0% at ${WORST_ROUND}</title>`]) expect(accuracy).toContain(tip);
    const loss = chart(html, 'loss per round').svg;
    for (const tip of ['holdout loss: 1.3000 at 0', `at ${rounds}</title>`, `holdout loss: 0.0123 at ${BEST_ROUND}</title>`, `holdout loss: 4.5678 at ${WORST_ROUND}</title>`]) expect(loss).toContain(tip);
    expect(chart(html, 'per-site training loss').svg).toContain(`site-1: 7.2500 at ${BEST_ROUND}</title>`);
    const siteAccuracy = chart(html, 'per-site training accuracy').svg;
    expect(siteAccuracy).toContain(`site-1: 1.5% at ${WORST_ROUND}</title>`);
    expect(siteAccuracy).toContain('site-1: ');
    expect(siteAccuracy.match(/ at 1<\/title>/g)).toHaveLength(10);
    expect(siteAccuracy.match(new RegExp(` at ${rounds}</title>`, 'g'))).toHaveLength(10);
  });

  it('the rounds table still lists every round', () => {
    for (let n = 1; n <= rounds; n++) expect(html).toContain(`<tr data-round="${n}"><td>${n}</td>`);
  });

  it('renders the same with its rounds settled (fragments cached) as without', () => {
    const report = reportOf(rounds);
    for (const r of report.rounds.slice(0, -1)) settleRoundRecord(r);
    expect(renderReportHtml(report)).toBe(html);
    expect(renderReportHtml(report)).toBe(html);
  });

  it('thins a line only past MAX_POINTS_PER_LINE points: the pretrained point counts, a site\'s line does not have one', () => {
    const notes = (n: number) => renderReportHtml(reportOf(n)).split(NOTE).length - 1;
    const whole = renderReportHtml(reportOf(MAX_POINTS_PER_LINE - 1));
    expect(whole).not.toContain(NOTE);
    for (const title of CHARTS) expect(pointsPerLine(chart(whole, title).svg).every((n) => n === MAX_POINTS_PER_LINE - (title.startsWith('per-site') ? 1 : 0))).toBe(true);
    expect(notes(MAX_POINTS_PER_LINE)).toBe(2);
    expect(notes(MAX_POINTS_PER_LINE + 1)).toBe(4);
  });
});
