import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '@fedtune/coordinator';
import type { RunReport } from '@fedtune/shared';
import { accuracyAxis, FULL_ACCURACY_AXIS, niceAxis, niceStep, numberTick, percentTick } from '../../coordinator/src/http/dashboard/assets/axis-range.js';
import { REPORT_HTML_CSP } from '../../coordinator/src/http/report-html-route.ts';
import { renderReportHtml } from '../../coordinator/src/report/report-html.ts';
import { findRobustnessGroups, robustnessRow } from '../../coordinator/src/report/robustness-groups-html.ts';
import { epsilonText, MAX_REASON_CHARS, rejectionsHtml, roundsTableHtml } from '../../coordinator/src/report/rounds-table-html.ts';
import { siteTrainingCurves, sitesToDraw } from '../../coordinator/src/report/site-training-html.ts';
import { tempDir } from '../helpers/federation.ts';

// report.html's rounds table, rejections, per-site training curves, generic robustness groups, the shared
// y-axis rule (axis-range.js) and GET /api/runs/:id/report.html (issue 17).

const EVIL = '<script>alert(1)</script>"onmouseover="x';

const accepted = (siteId: string, loss: number, accuracy: number) => ({ siteId, numExamples: 40, loss, accuracy, durationMs: 5 });
function round(n: number, extra: Partial<RunReport['rounds'][number]> = {}): RunReport['rounds'][number] {
  return {
    round: n, durationMs: 1500 * n, attempts: 1, selected: ['site-1', 'site-2', EVIL], accepted: [accepted('site-1', 1 / n, 0.6 + 0.1 * n), accepted('site-2', 2 / n, 0.5 + 0.1 * n)],
    rejected: [{ siteId: EVIL, code: 'update_norm', reason: `norm too large ${EVIL}` }], failed: [], bytesDown: 1, bytesUp: 1,
    global: { accuracy: 0.63 + 0.085 * (n - 1), loss: 1.2 - 0.3 * n }, modelDir: `models/round-${n}`, ...extra,
  };
}
function report(extra: Record<string, unknown> = {}): RunReport {
  return {
    schemaVersion: 1, runId: 'r-1', status: 'complete', startedAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:01:00Z', config: {}, backend: 'wasm',
    model: { architecture: 'mlp', parameters: 10 }, pretrained: { accuracy: 0.6, loss: 1.4 }, rounds: [round(1), round(2), round(3)], ...extra,
  } as RunReport;
}

describe('axis-range: the y axis of the dashboard and report.html', () => {
  it.each([
    [0.034, 0.05], [0.05, 0.05], [0.3, 0.5], [0.21, 0.25], [0.11, 0.2], [1, 1], [7, 10], [0.0051, 0.01], [2.4, 2.5],
  ])('niceStep(%s) = %s', (raw, step) => expect(niceStep(raw)).toBeCloseTo(step, 12));

  it('zooms accuracies to their range (63→80% spans 60–80%) on round ticks, or the whole 0–100%', () => {
    expect(accuracyAxis([0.63, 0.7, 0.8])).toEqual({ lo: 0.6, hi: 0.8, step: 0.05, ticks: [0.6, 0.65, 0.7, 0.75, 0.8] });
    expect(accuracyAxis([0.63, 0.8], true)).toBe(FULL_ACCURACY_AXIS);
    expect(FULL_ACCURACY_AXIS.ticks).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(accuracyAxis([NaN])).toBeUndefined();
    expect(accuracyAxis([])).toBeUndefined();
    // Never past 0% or 100%.
    expect(accuracyAxis([0.001, 0.999])).toMatchObject({ lo: 0, hi: 1 });
    // One value: a 2-point span around it.
    expect(accuracyAxis([0.8])).toMatchObject({ lo: 0.79, hi: 0.81 });
  });

  it('brackets every value, honours floor, ticks and minSpan', () => {
    expect(niceAxis([2.31, 0.42], { floor: 0 })).toEqual({ lo: 0, hi: 2.5, step: 0.5, ticks: [0, 0.5, 1, 1.5, 2, 2.5] });
    expect(niceAxis([-3, 3])).toEqual({ lo: -4, hi: 4, step: 2, ticks: [-4, -2, 0, 2, 4] });
    expect(niceAxis([-3, 3], { floor: -1, ceil: 1 })).toMatchObject({ lo: -1, hi: 1 });
    expect(niceAxis([0, 10], { ticks: 2 })).toMatchObject({ step: 5, ticks: [0, 5, 10] });
    expect(niceAxis([5], { minSpan: 2 })).toMatchObject({ lo: 4, hi: 6 });
    expect(niceAxis([1, Infinity, 2])).toMatchObject({ lo: 1, hi: 2 });
    expect(niceAxis([])).toBeUndefined();
  });

  it('prints ticks with the decimals the step needs', () => {
    expect(percentTick(0.6, 0.05)).toBe('60%');
    expect(percentTick(0.625, 0.025)).toBe('62.5%');
    expect(percentTick(0.795, 0.005)).toBe('79.5%');
    expect(percentTick(0.7925, 0.0025)).toBe('79.25%');
    expect(numberTick(2, 1)).toBe('2');
    expect(numberTick(1.25, 0.25)).toBe('1.25');
    expect(numberTick(1, 0.25)).toBe('1.00');
    expect(numberTick(20, 5)).toBe('20');
    expect(numberTick(0.1 + 0.2, 0.1)).toBe('0.3');
    expect(percentTick(1, 0.25)).toBe('100%');
    expect(numberTick(1.5, 0.5)).toBe('1.5');
    expect(numberTick(0.04, 0.02)).toBe('0.04');
  });
});

describe('report.html sections', () => {
  it('rounds table: one row per round with counts, duration, loss, accuracy; ε only for DP runs', () => {
    const html = roundsTableHtml(report());
    expect(html.match(/<tr data-round=/g)).toHaveLength(3);
    expect(html).toContain('<tr data-round="2"><td>2</td><td>3</td><td>2</td><td>1</td><td>0</td><td>3.0 s</td><td>0.6000</td><td>71.5%</td></tr>');
    expect(html).not.toContain('ε');
    const privacy = { epsilon: 1.23456, delta: 1e-5, noiseMultiplier: 1, clip: 1, nextClip: 1, samplingRate: 1, clippedShare: null, steps: 1, noise: 'distributed' as const, distributed: { configuredNoiseMultiplier: 1.1, threshold: 3, survivors: 4 } };
    const dp = roundsTableHtml({ rounds: [round(1, { privacy }), round(2, { privacy: { ...privacy, epsilon: Infinity } })], privacy });
    expect(dp).toContain('<th>ε (δ = 0.00001)</th>');
    expect(dp).toContain('<td>1.235</td></tr>');
    expect(dp).toContain('<td>∞</td></tr>');
    expect(dp).toContain('by the sites (distributed: z = 1.1, threshold 3, 4 sites');
    expect(roundsTableHtml({ rounds: [] })).toBe('');
    expect(epsilonText(undefined)).toBe('–');
    // Sites that sat a round out (stragglers): a column only when some round had them; 0 in the others.
    expect(html).not.toContain('sat out');
    const cooled = roundsTableHtml({ rounds: [round(1), round(2, { cooling: { count: 4, sites: ['s-1', 's-2', 's-3', 's-4'] } })] });
    expect(cooled).toContain('>sat out</th><th>duration</th>');
    expect(cooled).toContain('<tr data-round="1"><td>1</td><td>3</td><td>2</td><td>1</td><td>0</td><td>0</td><td>1.5 s</td>');
    expect(cooled).toContain('<tr data-round="2"><td>2</td><td>3</td><td>2</td><td>1</td><td>0</td><td>4</td><td>3.0 s</td>');
    // Busy sites (still training a fit the quorum wait cut off) sat out too: the column counts both.
    const busy = roundsTableHtml({ rounds: [round(1, { busy: { count: 2, sites: ['s-5', 's-6'] } }), round(2, { cooling: { count: 4, sites: ['s-1', 's-2', 's-3', 's-4'] }, busy: { count: 1, sites: ['s-5'] } })] });
    expect(busy).toContain('<tr data-round="1"><td>1</td><td>3</td><td>2</td><td>1</td><td>0</td><td>2</td><td>1.5 s</td>');
    expect(busy).toContain('<tr data-round="2"><td>2</td><td>3</td><td>2</td><td>1</td><td>0</td><td>5</td><td>3.0 s</td>');
    expect(roundsTableHtml({ rounds: [round(1, { busy: { count: 2, sites: ['s-5', 's-6'] } })] })).toContain('>sat out</th>');
  });

  it('rejections: site, round, code and reason, escaped and bounded; failures and terms refusals too', () => {
    const long = 'x'.repeat(5000);
    const html = rejectionsHtml({
      rounds: [round(1), round(2, { rejected: [{ siteId: 'site-9', code: 'non_finite', reason: long }], failed: [{ siteId: 'site-3', reason: 'timeout' }] })],
      termsRefusals: { total: 2, sites: [{ siteId: EVIL, reason: `ε limit ${EVIL}`, at: '2026-01-01T00:00:00Z' }] },
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('"onmouseover');
    expect(html).toContain('<td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=&quot;x</td><td>1</td><td>update_norm</td>');
    expect(html).toContain(`<td>${'x'.repeat(MAX_REASON_CHARS)}… (${5000 - MAX_REASON_CHARS} more characters)</td>`);
    expect(html).toContain('<td>site-3</td><td>2</td><td>timeout</td>');
    expect(html).toContain("2 site(s) refused the run's terms (their policy); the first 1 listed");
    expect(rejectionsHtml({ rounds: [round(1, { rejected: [] })] })).toBe('');
  });

  it('rejections: the sites found revealing wrong secure-aggregation shares, by round; none listed without any', () => {
    const html = rejectionsHtml({ rounds: [round(1, { rejected: [], secureAggregation: { wrongShares: ['site-2', EVIL], silentInUnmasking: ['site-1'] } }), round(2, { rejected: [], secureAggregation: { wrongShares: [], silentInUnmasking: [] } })] });
    expect(html).toContain("2 time(s) a site revealed secure-aggregation shares off their owners' polynomials");
    expect(html).toContain('<tr><td>site-2</td><td>1</td></tr>');
    expect(html).toContain('<tr><td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=&quot;x</td><td>1</td></tr>');
    expect(html).not.toContain('<script>');
    expect(rejectionsHtml({ rounds: [round(1, { rejected: [], secureAggregation: { wrongShares: [], silentInUnmasking: ['site-1'] } })] })).toBe('');
  });

  it('per-site training: a curve per site from accepted updates; with many sites the lowest and highest last accuracy', () => {
    const curves = siteTrainingCurves(report());
    expect(curves.map((c) => c.siteId)).toEqual(['site-1', 'site-2']);
    expect(curves[1].loss).toEqual([[1, 2], [2, 1], [3, 2 / 3]]);
    expect(curves[0].accuracy.map(([, a]) => a)).toEqual([0.7, 0.8, 0.9].map((a) => expect.closeTo(a, 12)));
    const many = Array.from({ length: 25 }, (_, k) => ({ siteId: `site-${k}`, loss: [], accuracy: [[1, k / 100]] as Array<[number, number]> }));
    const drawn = sitesToDraw(many, 4).map((c) => c.siteId);
    expect(drawn).toEqual(['site-0', 'site-1', 'site-23', 'site-24']);
    expect(sitesToDraw(many.slice(0, 4), 4)).toHaveLength(4);
    expect(sitesToDraw(many, 5).map((c) => c.siteId)).toEqual(['site-0', 'site-1', 'site-2', 'site-23', 'site-24']);
  });

  it('finds any robustness group of {name, eps|budget|severity, accuracy} rows and renders it', () => {
    const r = report({
      textRobustness: { typos: [{ name: 'typos', severity: 1, accuracy: 0.7 }, { name: 'typos', severity: 2, accuracy: 0.6 }], wordSubstitution: [{ budget: 1, accuracy: 0.5 }, { budget: 3, accuracy: 0.3 }], note: 'x' },
      bogus: [{ accuracy: 2 }],
      finalRobustness: { noise: [], corruptions: [], fgsm: [], pgd: [], casing: [{ name: `case ${EVIL}`, accuracy: 0.8 }] },
    });
    const groups = findRobustnessGroups(r as unknown as Record<string, unknown>);
    expect(groups.map((g) => g.path)).toEqual(['textRobustness.typos', 'textRobustness.wordSubstitution', 'finalRobustness.casing']);
    expect(groups[1].rows).toEqual([{ strength: { key: 'budget', value: 1 }, accuracy: 0.5 }, { strength: { key: 'budget', value: 3 }, accuracy: 0.3 }]);
    expect(robustnessRow({ eps: 0.1, accuracy: NaN })).toBeUndefined();
    expect(robustnessRow({ eps: 0.1, accuracy: -0.1 })).toBeUndefined();
    expect(robustnessRow({ attack: 'pgd', eps: 0.1, accuracy: 1 })).toEqual({ name: 'pgd', strength: { key: 'eps', value: 0.1 }, accuracy: 1 });
    expect(robustnessRow('x')).toBeUndefined();
  });

  it('the whole page: loss chart, zoomed accuracy axis, rounds, rejections, groups; nothing executable from peers', () => {
    const html = renderReportHtml({ ...report({ textRobustness: { typos: [{ name: 'typos', severity: 1, accuracy: 0.7 }] } }) } as never);
    expect(html).toContain('aria-label="loss per round"');
    const accuracyChart = html.slice(html.indexOf('aria-label="accuracy per round"'), html.indexOf('</svg>', html.indexOf('aria-label="accuracy per round"')));
    const ticks = [...accuracyChart.matchAll(/class="y-tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(ticks).toEqual(['60%', '65%', '70%', '75%', '80%']);
    expect(accuracyChart.match(/<polyline[^>]*points="([^"]*)"/)![1].split(' ')).toHaveLength(4);
    expect(html).toContain('id="rounds"');
    expect(html).toContain('id="rejections"');
    expect(html).toContain('Robustness: textRobustness.typos');
    expect(html).toContain('id="site-training"');
    expect(html).not.toMatch(/<script|onmouseover="|src="http|href="http/i);
  });
});

describe('GET /api/runs/:id/report.html', () => {
  it('serves the rendered report with a no-script CSP; 404 for a run without rounds or an unknown run; admin-only', async () => {
    const runsDir = tempDir();
    mkdirSync(join(runsDir, 'r-1'));
    writeFileSync(join(runsDir, 'r-1', 'report.json'), JSON.stringify(report()));
    mkdirSync(join(runsDir, 'r-empty'));
    writeFileSync(join(runsDir, 'r-empty', 'report.json'), JSON.stringify(report({ rounds: [] })));
    const { app } = buildApp({ runsDir, maxMessageBytes: 1 << 20 });
    try {
      const res = await app.inject({ method: 'GET', url: '/api/runs/r-1/report.html' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy']).toBe(REPORT_HTML_CSP);
      expect(res.body).toContain('<h1>fedtune run r-1</h1>');
      expect(res.body).not.toContain('<script');
      for (const url of ['/api/runs/r-empty/report.html', '/api/runs/nope/report.html']) {
        const bad = await app.inject({ method: 'GET', url });
        expect(bad.statusCode, url).toBe(404);
        expect(bad.json().error.code, url).toBe('not_found');
      }
      // A run id outside [A-Za-z0-9._-] never reaches the disk.
      expect((await app.inject({ method: 'GET', url: '/api/runs/..%2F..%2Fetc/report.html' })).statusCode).toBe(400);
    } finally {
      await app.close();
    }
    const guarded = buildApp({ runsDir, maxMessageBytes: 1 << 20, admin: { required: () => true, check: (h) => (h === 'Bearer good' ? { ok: true } : { ok: false, message: 'admin token required' }) } });
    try {
      expect((await guarded.app.inject({ method: 'GET', url: '/api/runs/r-1/report.html' })).statusCode).toBe(401);
      expect((await guarded.app.inject({ method: 'GET', url: '/api/runs/r-1/report.html', headers: { authorization: 'Bearer good' } })).statusCode).toBe(200);
    } finally {
      await guarded.app.close();
    }
  });
});
