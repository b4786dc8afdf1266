import { FedtuneError, type SiteDataSummary } from '@fedtune/shared';
import type { RunReport } from '@fedtune/shared';

/** Most sites whose data summary the run report lists one by one (the totals count them all). */
export const MAX_REPORTED_DATA_SUMMARIES = 100;

export type DataSummariesSection = NonNullable<RunReport['dataSummaries']>;

/** A summary's examples may be at most this multiple of the training examples its site announced at hello (a site trains on ~80% of what it summarises). */
export const MAX_SUMMARY_EXAMPLES_PER_ANNOUNCED = 10;

/** What a summary is checked against: the training examples its site announced at hello, and the run's class count when the run names its classes. */
export interface SummaryLimits {
  announced?: number;
  classes?: number;
}

/**
 * The sites' data summaries (docs/data.md#sharing-the-data-summary): one per site and run, the first
 * MAX_REPORTED_DATA_SUMMARIES listed, all of them summed (the ids of the others kept in `unlisted`). A second
 * summary from a site, or one for another run, is refused and changes nothing — after a resume too.
 */
export class DataSummaries {
  private readonly seen = new Set<string>();
  private readonly section: DataSummariesSection;

  constructor(
    private readonly runId: string,
    previous?: DataSummariesSection,
  ) {
    this.section = previous ? structuredClone(previous) : { total: { sites: 0, examples: 0, duplicatesDropped: 0, missingImputed: 0, constantFeatures: 0, labelCounts: [] }, sites: [] };
    for (const s of this.section.sites) this.seen.add(s.siteId);
    for (const siteId of this.section.unlisted ?? []) this.seen.add(siteId);
  }

  /**
   * Records a joined site's summary; throws a typed error ('stale_round', 'duplicate_result', 'malformed_payload')
   * for one it refuses: counts that contradict each other, the site's hello or the run's classes would skew the
   * report's totals.
   */
  add(summary: SiteDataSummary, limits: SummaryLimits = {}): void {
    if (summary.runId !== this.runId) throw new FedtuneError('stale_round', `a data summary for run ${summary.runId.slice(0, 64)}; this run is ${this.runId}`);
    if (this.seen.has(summary.siteId)) throw new FedtuneError('duplicate_result', 'this site has sent its data summary already');
    checkSummaryCounts(summary, limits);
    this.seen.add(summary.siteId);
    const total = this.section.total;
    total.sites++;
    total.examples += summary.examples;
    total.duplicatesDropped += summary.duplicatesDropped;
    total.missingImputed += summary.missingImputed;
    total.constantFeatures += summary.constantFeatures;
    summary.labelCounts.forEach((count, label) => (total.labelCounts[label] = (total.labelCounts[label] ?? 0) + count));
    const { runId: _runId, ...site } = summary;
    if (this.section.sites.length < MAX_REPORTED_DATA_SUMMARIES) this.section.sites.push({ ...site, labelCounts: [...site.labelCounts] });
    // Past the listed ones, the id alone, so a resumed run (which starts from the report) knows it was counted: before
    // (until 2026-12-07) every site past the first 100 could add its summary to the totals again after each resume.
    else (this.section.unlisted ??= []).push(summary.siteId);
  }

  /** The report section; absent while no site shared a summary. */
  report(): DataSummariesSection | undefined {
    return this.section.total.sites > 0 ? structuredClone(this.section) : undefined;
  }
}

/** Refuses ('malformed_payload') a summary whose counts contradict each other, its site's hello or the run's classes. */
export function checkSummaryCounts(summary: SiteDataSummary, { announced, classes }: SummaryLimits): void {
  const fail = (why: string) => {
    throw new FedtuneError('malformed_payload', `data summary refused: ${why}`);
  };
  const labelled = summary.labelCounts.reduce((n, c) => n + c, 0);
  if (labelled > summary.examples) fail(`its label counts sum to ${labelled}, more than its ${summary.examples} examples`);
  if (classes !== undefined && summary.labelCounts.length > classes) fail(`${summary.labelCounts.length} label counts for a run of ${classes} classes`);
  if (announced !== undefined) {
    if (summary.examples < announced) fail(`${summary.examples} examples, fewer than the ${announced} training examples announced at hello`);
    if (summary.examples > MAX_SUMMARY_EXAMPLES_PER_ANNOUNCED * Math.max(1, announced)) {
      fail(`${summary.examples} examples, more than ${MAX_SUMMARY_EXAMPLES_PER_ANNOUNCED} × the ${announced} training examples announced at hello`);
    }
  }
}
