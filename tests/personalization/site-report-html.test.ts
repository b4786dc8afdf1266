import { describe, expect, it } from 'vitest';
import { summarizeSiteReports, type SiteReportEntry, type SiteReportSection } from '@fedtune/shared';
import { renderReportHtml, type ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';
import { siteReportHtml } from '../../coordinator/src/report/site-report-html.ts';

const arm = (accuracy: number, pgd?: number) => ({ accuracy, loss: 1 - accuracy, ...(pgd !== undefined ? { robust: { noiseMean: accuracy - 0.1, corruptionMean: accuracy - 0.2, pgd: [{ eps: 0.05, accuracy: pgd + 0.1 }, { eps: 0.1, accuracy: pgd }] } } : {}) });
const sites: SiteReportEntry[] = [
  { siteId: 'site-1', numExamples: 50, adopted: true, durationMs: 10, arms: { pretrained: arm(0.5, 0.1), localOnly: arm(0.8, 0.2), global: arm(0.7, 0.3), personalized: arm(0.85, 0.35) } },
  { siteId: 'site-2', numExamples: 40, adopted: false, durationMs: 10, arms: { pretrained: arm(0.4, 0.05), localOnly: arm(0.9, 0.1), global: arm(0.6, 0.25), personalized: arm(0.6, 0.25) } },
];
const section = (robustness: boolean): SiteReportSection => {
  const entries = robustness ? sites : sites.map((s) => ({ ...s, arms: Object.fromEntries(Object.entries(s.arms).map(([k, v]) => [k, { accuracy: v.accuracy, loss: v.loss }])) as SiteReportEntry['arms'] }));
  return { round: 3, mode: 'head', localOnlyEpochs: 3, robustness, sites: entries, missing: [{ siteId: 'site-<3>', reason: 'disconnected: <script>' }], ...summarizeSiteReports(entries) };
};

describe('the per-site report: summary and report.html', () => {
  it('summarizeSiteReports: worst site per arm (clean and PGD at the largest ε) and the win counts', () => {
    const s = summarizeSiteReports(sites);
    expect(s.worst.global).toEqual({ clean: { siteId: 'site-2', accuracy: 0.6 }, robust: { siteId: 'site-2', accuracy: 0.25 } });
    expect(s.worst.localOnly).toEqual({ clean: { siteId: 'site-1', accuracy: 0.8 }, robust: { siteId: 'site-2', accuracy: 0.1 } });
    expect(s.counts).toEqual({ sites: 2, personalizedAtLeastGlobal: 2, personalizedAtLeastLocalOnly: 1, localOnlyBeatsGlobal: 2 });
    expect(summarizeSiteReports([])).toEqual({ worst: {} });
  });

  it('renders a table of every site × model, the worst site, who is missing (escaped) and grouped bars; robust bars only when measured', () => {
    const html = siteReportHtml(section(true));
    for (const label of ['pretrained', 'local-only', 'global', 'personalised', 'site-1', 'site-2', 'worst site', '(kept global)']) expect(html).toContain(label);
    expect(html).toContain('PGD 35.0%');
    expect(html).toContain('site-&lt;3&gt; (disconnected: &lt;script&gt;)');
    expect(html).not.toContain('<script>');
    expect(html.match(/<svg/g)).toHaveLength(2);
    expect(html).toContain('PGD accuracy (ε=0.1)');
    const clean = siteReportHtml(section(false));
    expect(clean.match(/<svg/g)).toHaveLength(1);
    expect(clean).not.toContain('PGD');
    expect(siteReportHtml(undefined)).toBe('');
  });

  it('with robustEps (the headline ε, here 0.05 of the sites\' 0.05 and 0.1): cells, bars and the note read PGD there', () => {
    const html = siteReportHtml({ ...section(true), robustEps: 0.05, ...summarizeSiteReports(sites, 0.05) });
    // 45 % and 40 % are site-1's personalised and global arms at ε 0.05 only; 5 % is site-2's pretrained arm at ε 0.1 only.
    expect(html).toContain('PGD 45.0%');
    expect(html).toContain('PGD 40.0%');
    expect(html).not.toContain('PGD 5.0%');
    expect(html).toContain('PGD accuracy (ε=0.05)');
    expect(html).toContain('PGD at ε=0.05');
  });

  it("mode 'auto': each site's choice shows in report.html and in the printed table", async () => {
    const { siteReportTable } = await import('../../cli/src/ui/site-report-table.ts');
    const auto: SiteReportSection = { ...section(false), mode: 'auto', sites: section(false).sites.map((s, i) => ({ ...s, chosen: i === 0 ? 'mix-0.5' : 'global' })) };
    expect(siteReportHtml(auto)).toContain('site-1 <small>(auto: mix-0.5)</small>');
    expect(siteReportTable(auto).find((l) => l.startsWith('site-1'))).toContain('(auto: mix-0.5)');
    // auto keeping the global model says so once, not also "(kept global)" (new-user review).
    const keptGlobal: SiteReportSection = { ...auto, sites: auto.sites.map((s) => ({ ...s, chosen: 'global', adopted: false })) };
    const line = siteReportTable(keptGlobal).find((l) => l.startsWith('site-1'))!;
    expect(line).toContain('(auto: global)');
    expect(line).not.toContain('(kept global)');
    // Not auto: a site that kept the global model says "(kept global)".
    const headKept: SiteReportSection = { ...section(false), sites: section(false).sites.map((s) => ({ ...s, adopted: false })) };
    expect(siteReportTable(headKept).find((l) => l.startsWith('site-1'))).toContain('(kept global)');
    expect(siteReportHtml(section(false))).not.toContain('(auto:');
  });

  it("mode 'auto': each site's candidates' validation scores show in report.html, the chosen one in bold", () => {
    const candidates = [
      { candidate: 'global' as const, accuracy: 0.8, loss: 0.5, robustAccuracy: 0.2 },
      { candidate: 'local-only' as const, accuracy: 0.9, loss: 0.4, robustAccuracy: 0.25 },
    ];
    const auto: SiteReportSection = { ...section(false), mode: 'auto', sites: section(false).sites.map((s, i) => (i === 0 ? { ...s, chosen: 'local-only', candidates } : s)) };
    const html = siteReportHtml(auto);
    expect(html).toContain('validation: global 80.0% (guard 20.0%) · <b>local-only 90.0% (guard 25.0%)</b>');
    expect(html.match(/validation:/g)).toHaveLength(1);
    const unguarded = siteReportHtml({ ...auto, sites: auto.sites.map((s) => ({ ...s, ...(s.candidates ? { candidates: s.candidates.map(({ robustAccuracy: _r, ...c }) => c) } : {}) })) });
    expect(unguarded).toContain('validation: global 80.0% · <b>local-only 90.0%</b>');
  });

  it('paired comparisons: each site\'s Δ against local-only (± 2 paired standard errors) in the table, and the counts beyond noise in both', async () => {
    const { siteReportTable } = await import('../../cli/src/ui/site-report-table.ts');
    // site-1: 50 examples, 4 wins and 1 loss against local-only (+6.0 points); site-2: 40 examples, 0 wins and 12 losses.
    const compared = sites.map((s, i) => ({ ...s, comparisons: i === 0 ? { localOnly: { wins: 4, losses: 1 }, global: { wins: 9, losses: 1 } } : { localOnly: { wins: 0, losses: 12 }, global: { wins: 0, losses: 0 } } }));
    const withCounts: SiteReportSection = { ...section(false), sites: compared, ...summarizeSiteReports(compared) };
    expect(withCounts.counts!.beyondNoise).toEqual({ standardErrors: 2, worseThanLocalOnly: 1, betterThanLocalOnly: 0, worseThanGlobal: 0, betterThanGlobal: 1 });
    const table = siteReportTable(withCounts);
    const se1 = 2 * Math.sqrt((5 - 50 * 0.06 ** 2) / 49 / 50);
    expect(table.find((l) => l.startsWith('site-1'))).toContain(`Δ local-only +6.0 ± ${(100 * se1).toFixed(1)}`);
    expect(table.find((l) => l.startsWith('site-2'))).toContain('Δ local-only −30.0 ±');
    expect(table).toContain("beyond each test split's noise (Δ in points ± 2 paired standard errors): personalised worse than local-only on 1/2, better on 0/2; worse than global on 0/2, better on 1/2");
    expect(siteReportHtml(withCounts)).toContain("Beyond each site&#39;s test-split noise (2 paired standard errors): personalised worse than local-only on 1/2, better on 0/2; worse than global on 0/2, better on 1/2.");
    // Without comparisons: neither line.
    expect(siteReportTable(section(false)).join('\n')).not.toContain('beyond');
    expect(siteReportHtml(section(false))).not.toContain('Beyond');
  });

  it('report.html includes the section when report.json has one', () => {
    const report = { schemaVersion: 1, runId: 'r', status: 'complete', startedAt: '', updatedAt: '', config: {}, backend: 'wasm', model: { architecture: 'mlp', parameters: 1 }, rounds: [] } as unknown as ReportWithRobustness;
    expect(renderReportHtml(report)).not.toContain('Per-site report');
    expect(renderReportHtml({ ...report, siteReport: section(true) })).toContain('Per-site report');
  });
});
