import type { SiteDataSummary } from '../messages/schemas.ts';
import { MAX_SUMMARY_CLASSES, MAX_SUMMARY_FEATURE_NAMES } from '../messages/schemas.ts';
import type { DataCheckReport } from './check-dataset.ts';
import { withoutControlCharacters } from '../text/one-line.ts';

/** What a site may share about its data (docs/data.md#sharing-the-data-summary): counts, and feature names only if allowed. */
export type DataSummaryCounts = Omit<SiteDataSummary, 'runId' | 'siteId'>;

export interface DataSummaryInput {
  /** Examples the site joins with (after dropping duplicates). */
  examples: number;
  /** Examples per class index. */
  labelCounts: ArrayLike<number>;
  duplicatesDropped?: number;
  missingImputed?: number;
  constantFeatures?: number;
  featureNames?: readonly string[];
}

/** The summary counts of a numeric data check: missing values count as imputed only when the site imputes them. */
export function summaryOfDataCheck(report: DataCheckReport, prepared: { examples: number; labelCounts: ArrayLike<number>; duplicatesDropped: number; imputed: boolean; featureNames?: readonly string[] }): DataSummaryCounts {
  return dataSummaryCounts({
    examples: prepared.examples,
    labelCounts: prepared.labelCounts,
    duplicatesDropped: prepared.duplicatesDropped,
    missingImputed: prepared.imputed ? report.missing.count : 0,
    constantFeatures: report.constantFeatures.count,
    ...(prepared.featureNames ? { featureNames: prepared.featureNames } : {}),
  });
}

/**
 * The counts as the wire schema bounds them: integers, at most MAX_SUMMARY_CLASSES label counts and
 * MAX_SUMMARY_FEATURE_NAMES names of at most 128 characters (summaryToSend drops the names the policy does not allow).
 */
export function dataSummaryCounts(input: DataSummaryInput): DataSummaryCounts {
  // Control characters (a CSV header may hold any) become spaces: the coordinator refuses names with them.
  const names = input.featureNames?.slice(0, MAX_SUMMARY_FEATURE_NAMES).map(withoutControlCharacters).map((n) => (n.length > 128 ? n.slice(0, 128) : n)).filter((n) => n.trim().length > 0);
  return {
    examples: input.examples,
    duplicatesDropped: input.duplicatesDropped ?? 0,
    missingImputed: input.missingImputed ?? 0,
    constantFeatures: input.constantFeatures ?? 0,
    labelCounts: Array.from(input.labelCounts).slice(0, MAX_SUMMARY_CLASSES),
    ...(names ? { featureNames: names } : {}),
  };
}

/** The summary a site sends: without feature names unless its policy allows them (`data.shareFeatureNames`). */
export function summaryToSend(counts: DataSummaryCounts, ids: { runId: string; siteId: string }, shareFeatureNames: boolean): SiteDataSummary {
  const { featureNames, ...rest } = counts;
  return { runId: ids.runId, siteId: ids.siteId, ...rest, ...(shareFeatureNames && featureNames ? { featureNames } : {}) };
}
