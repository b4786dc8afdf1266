import { describe, expect, it } from 'vitest';
import { checkDataset, dataSummaryCounts, MAX_SUMMARY_CLASSES, MAX_SUMMARY_FEATURE_NAMES, RunReport, SiteDataSummary, SitePolicy, summaryOfDataCheck, summaryToSend } from '@fedtune/shared';
import { checkSummaryCounts, DataSummaries, MAX_REPORTED_DATA_SUMMARIES, type SummaryLimits } from '../../coordinator/src/engine/data-summaries.ts';
import { dataSummariesHtml, MAX_SHOWN_FEATURE_NAMES } from '../../coordinator/src/report/data-summaries-html.ts';

const valid = { runId: 'run', siteId: 'site-a', examples: 40, duplicatesDropped: 2, missingImputed: 3, constantFeatures: 1, labelCounts: [10, 30] };

describe('SiteDataSummary (the wire schema)', () => {
  it('accepts a summary of counts, with or without feature names', () => {
    expect(SiteDataSummary.parse(valid)).toEqual(valid);
    expect(SiteDataSummary.parse({ ...valid, featureNames: ['age', 'city'] }).featureNames).toEqual(['age', 'city']);
    expect(SiteDataSummary.parse({ ...valid, labelCounts: new Array(MAX_SUMMARY_CLASSES).fill(1) }).labelCounts).toHaveLength(MAX_SUMMARY_CLASSES);
    expect(SiteDataSummary.parse({ ...valid, featureNames: new Array(MAX_SUMMARY_FEATURE_NAMES).fill('x'.repeat(128)) }).featureNames).toHaveLength(MAX_SUMMARY_FEATURE_NAMES);
  });

  it('drops any other field: a raw value smuggled alongside never gets through', () => {
    expect(SiteDataSummary.parse({ ...valid, values: [[0.5, 1.5]], labelNames: ['spam'] })).toEqual(valid);
  });

  it.each([
    ['oversize label counts', { labelCounts: new Array(MAX_SUMMARY_CLASSES + 1).fill(1) }],
    ['too many feature names', { featureNames: new Array(MAX_SUMMARY_FEATURE_NAMES + 1).fill('x') }],
    ['an oversize feature name', { featureNames: ['x'.repeat(129)] }],
    ['an empty feature name', { featureNames: [''] }],
    ['a feature name with an ANSI escape', { featureNames: ['age\u001b[2J'] }],
    ['a feature name with a newline', { featureNames: ['age\nforged log line'] }],
    ['a string count', { examples: '40' }],
    ['a fractional count', { examples: 40.5 }],
    ['a negative count', { duplicatesDropped: -1 }],
    ['NaN', { missingImputed: Number.NaN }],
    ['Infinity', { constantFeatures: Number.POSITIVE_INFINITY }],
    ['a count beyond the cap', { examples: 1e9 + 1 }],
    ['a non-finite label count', { labelCounts: [1, Number.NaN] }],
    ['label counts as an object', { labelCounts: { 0: 1 } }],
    ['a missing count', { examples: undefined }],
    ['a bad site id', { siteId: 'a b' }],
    ['an oversize run id', { runId: 'r'.repeat(129) }],
  ])('refuses %s', (_what, change) => {
    expect(SiteDataSummary.safeParse({ ...valid, ...change }).success).toBe(false);
  });
});

describe('the site side: what it may send', () => {
  it('counts a numeric data check: imputed only when imputing, constant features, duplicates dropped', () => {
    // 5 examples, feature 1 constant, one missing value, example 3 a duplicate of 0.
    const x = Float32Array.from([0, 7, 1, 7, Number.NaN, 7, 0, 7, 2, 7]);
    const report = checkDataset({ x, y: Int32Array.from([0, 1, 1, 0, 1]), featureShape: [2], numClasses: 2 });
    const prepared = { examples: 4, labelCounts: [1, 3], duplicatesDropped: 1, featureNames: ['a', 'b'] };
    expect(summaryOfDataCheck(report, { ...prepared, imputed: true })).toEqual({ examples: 4, labelCounts: [1, 3], duplicatesDropped: 1, missingImputed: 1, constantFeatures: 1, featureNames: ['a', 'b'] });
    expect(summaryOfDataCheck(report, { ...prepared, imputed: false }).missingImputed).toBe(0);
  });

  it('bounds what it sends as the schema does', () => {
    const counts = dataSummaryCounts({ examples: 3, labelCounts: new Array(MAX_SUMMARY_CLASSES + 5).fill(1), featureNames: ['', 'n'.repeat(300), ...new Array(MAX_SUMMARY_FEATURE_NAMES).fill('f')] });
    expect(counts.labelCounts).toHaveLength(MAX_SUMMARY_CLASSES);
    expect(counts.featureNames![0]).toHaveLength(128);
    expect(counts.featureNames!.length).toBeLessThanOrEqual(MAX_SUMMARY_FEATURE_NAMES);
    expect(counts).toMatchObject({ duplicatesDropped: 0, missingImputed: 0, constantFeatures: 0 });
    expect(SiteDataSummary.safeParse(summaryToSend(counts, { runId: 'r', siteId: 's' }, true)).success).toBe(true);
    // A CSV header may hold control characters: the site sends them as spaces (the coordinator refuses them), and drops a name of nothing else.
    const controlled = dataSummaryCounts({ examples: 3, labelCounts: [3], featureNames: ['a\u001b[31mb', '\n\t', 'c'] });
    expect(controlled.featureNames).toEqual(['a [31mb', 'c']);
    expect(SiteDataSummary.safeParse(summaryToSend(controlled, { runId: 'r', siteId: 's' }, true)).success).toBe(true);
  });

  it.each([
    [false, undefined],
    [true, ['age', 'city']],
  ])('sends feature names only when the policy allows (shareFeatureNames %s)', (allow, names) => {
    const sent = summaryToSend(dataSummaryCounts({ examples: 2, labelCounts: [1, 1], featureNames: ['age', 'city'] }), { runId: 'r', siteId: 's' }, allow);
    expect(sent.featureNames).toEqual(names);
    expect(sent).toMatchObject({ runId: 'r', siteId: 's', examples: 2 });
  });

  it('the site policy shares nothing by default', () => {
    expect(SitePolicy.parse({}).data).toEqual({ shareSummary: false, shareFeatureNames: false });
    expect(SitePolicy.parse({ data: { shareSummary: true } }).data).toEqual({ shareSummary: true, shareFeatureNames: false });
    expect(SitePolicy.safeParse({ data: { shareValues: true } }).success).toBe(false);
  });
});

describe('DataSummaries (the coordinator record)', () => {
  it('records each site once, sums the totals label by label, and refuses another run and a repeat', () => {
    const d = new DataSummaries('run');
    expect(d.report()).toBeUndefined();
    d.add(valid);
    d.add({ ...valid, siteId: 'site-b', examples: 5, duplicatesDropped: 0, missingImputed: 1, constantFeatures: 2, labelCounts: [1, 2, 2] });
    expect(() => d.add({ ...valid, examples: 999 })).toThrow(expect.objectContaining({ code: 'duplicate_result' }));
    expect(() => d.add({ ...valid, siteId: 'site-c', runId: 'other' })).toThrow(expect.objectContaining({ code: 'stale_round' }));
    const report = d.report()!;
    expect(report.total).toEqual({ sites: 2, examples: 45, duplicatesDropped: 2, missingImputed: 4, constantFeatures: 3, labelCounts: [11, 32, 2] });
    expect(report.sites).toEqual([
      { siteId: 'site-a', examples: 40, duplicatesDropped: 2, missingImputed: 3, constantFeatures: 1, labelCounts: [10, 30] },
      { siteId: 'site-b', examples: 5, duplicatesDropped: 0, missingImputed: 1, constantFeatures: 2, labelCounts: [1, 2, 2] },
    ]);
    expect(RunReport.shape.dataSummaries.safeParse(report).success).toBe(true);
  });

  it.each<[string, Partial<typeof valid>, SummaryLimits, string | undefined]>([
    ['label counts summing to the examples', { examples: 40, labelCounts: [10, 30] }, {}, undefined],
    ['label counts summing past them', { examples: 39, labelCounts: [10, 30] }, {}, 'its label counts sum to 40, more than its 39 examples'],
    ['label counts as many as the run\'s classes', { labelCounts: [10, 30] }, { classes: 2 }, undefined],
    ['more label counts than the run\'s classes', { labelCounts: [10, 29, 1] }, { classes: 2 }, '3 label counts for a run of 2 classes'],
    ['as many examples as announced', { examples: 40 }, { announced: 40 }, undefined],
    ['fewer examples than announced', { examples: 40 }, { announced: 41 }, '40 examples, fewer than the 41 training examples announced at hello'],
    ['10 × the announced', { examples: 40 }, { announced: 4 }, undefined],
    ['past 10 × the announced', { examples: 41, labelCounts: [11, 30] }, { announced: 4 }, '41 examples, more than 10 × the 4 training examples announced at hello'],
    ['10 examples when 0 were announced', { examples: 10, labelCounts: [5, 5] }, { announced: 0 }, undefined],
    ['11 examples when 0 were announced', { examples: 11, labelCounts: [5, 5] }, { announced: 0 }, '11 examples, more than 10 × the 0 training examples announced at hello'],
  ])('checkSummaryCounts: %s', (_what, change, limits, refusal) => {
    const summary = { ...valid, ...change };
    if (refusal === undefined) expect(() => checkSummaryCounts(summary, limits)).not.toThrow();
    else expect(() => checkSummaryCounts(summary, limits)).toThrow(expect.objectContaining({ code: 'malformed_payload', message: `data summary refused: ${refusal}` }));
    // DataSummaries checks the same, and a refused summary changes nothing.
    const d = new DataSummaries('run');
    if (refusal === undefined) d.add(summary, limits);
    else expect(() => d.add(summary, limits)).toThrow(expect.objectContaining({ code: 'malformed_payload' }));
    expect(d.report()?.total.sites ?? 0).toBe(refusal === undefined ? 1 : 0);
  });

  it(`lists the first ${MAX_REPORTED_DATA_SUMMARIES} sites and counts all of them`, () => {
    const d = new DataSummaries('run');
    for (let i = 0; i < MAX_REPORTED_DATA_SUMMARIES + 7; i++) d.add({ ...valid, siteId: `s${i}`, examples: 1, labelCounts: [1] });
    const report = d.report()!;
    expect(report.sites).toHaveLength(MAX_REPORTED_DATA_SUMMARIES);
    expect(report.sites.at(-1)!.siteId).toBe(`s${MAX_REPORTED_DATA_SUMMARIES - 1}`);
    expect(report.total).toMatchObject({ sites: MAX_REPORTED_DATA_SUMMARIES + 7, examples: MAX_REPORTED_DATA_SUMMARIES + 7, labelCounts: [MAX_REPORTED_DATA_SUMMARIES + 7] });
    // The others by id only, in the order they came.
    expect(report.unlisted).toEqual(Array.from({ length: 7 }, (_, i) => `s${MAX_REPORTED_DATA_SUMMARIES + i}`));
    const few = new DataSummaries('run');
    few.add(valid);
    expect(few.report()).not.toHaveProperty('unlisted');
  });

  it('a resumed run refuses the second summary of a site past the listed ones (attacker review: each resume let them count again)', () => {
    const first = new DataSummaries('run');
    for (let i = 0; i < MAX_REPORTED_DATA_SUMMARIES + 2; i++) first.add({ ...valid, siteId: `s${i}`, examples: 1, labelCounts: [1] });
    // Through report.json, as a resume reads it.
    const resumed = new DataSummaries('run', JSON.parse(JSON.stringify(first.report())));
    for (const siteId of ['s0', `s${MAX_REPORTED_DATA_SUMMARIES}`, `s${MAX_REPORTED_DATA_SUMMARIES + 1}`]) {
      expect(() => resumed.add({ ...valid, siteId, examples: 1, labelCounts: [1] })).toThrow(expect.objectContaining({ code: 'duplicate_result' }));
    }
    resumed.add({ ...valid, siteId: 'new', examples: 1, labelCounts: [1] });
    expect(resumed.report()!.total.sites).toBe(MAX_REPORTED_DATA_SUMMARIES + 3);
    expect(resumed.report()!.unlisted).toEqual([`s${MAX_REPORTED_DATA_SUMMARIES}`, `s${MAX_REPORTED_DATA_SUMMARIES + 1}`, 'new']);
  });

  it('continues a resumed run: its sites still count as having sent', () => {
    const first = new DataSummaries('run');
    first.add(valid);
    const resumed = new DataSummaries('run', first.report());
    expect(() => resumed.add(valid)).toThrow(expect.objectContaining({ code: 'duplicate_result' }));
    resumed.add({ ...valid, siteId: 'site-b' });
    expect(resumed.report()!.total.sites).toBe(2);
  });

  it('report.html shows the totals and the rows, escaped and bounded', () => {
    const d = new DataSummaries('run');
    d.add({ ...valid, siteId: 'site-a', featureNames: ['<b>age</b>', ...new Array(MAX_SHOWN_FEATURE_NAMES + 3).fill('f')] });
    d.add({ ...valid, siteId: 'site-b' });
    const html = dataSummariesHtml({ dataSummaries: d.report() });
    expect(html).toContain('<h2>Data summaries</h2>');
    expect(html).toContain('2 site(s) shared');
    expect(html).toContain('<tr class="total"><td>all 2</td><td>80</td><td>4</td><td>6</td><td>2</td><td>0:20 1:60</td>');
    expect(html).toContain('<tr><td>site-b</td><td>40</td><td>2</td><td>3</td><td>1</td><td>0:10 1:30</td><td>–</td></tr>');
    expect(html).toContain('&lt;b&gt;age&lt;/b&gt;');
    expect(html).not.toContain('<b>age');
    expect(html.match(/, f/g)).toHaveLength(MAX_SHOWN_FEATURE_NAMES - 1);
    expect(html).toContain(', …');
    expect(dataSummariesHtml({})).toBe('');
  });
});
