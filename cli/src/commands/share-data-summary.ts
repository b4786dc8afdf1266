import { dataSummaryCounts, type DataSummaryCounts, type SiteDataOptions } from '@fedtune/shared';
import type { LoadedSiteData } from '@fedtune/client-node';
import type { CheckedSiteData } from './site-data-check.ts';

/**
 * The data summary a site shares when it agrees (`--share-data-summary`, or its policy's data.shareSummary):
 * the data check's counts for the data it joins with (docs/data.md#sharing-the-data-summary). The feature
 * names (a CSV's column names) go with it; SiteClient drops them unless the policy's data.shareFeatureNames allows.
 */
export function dataSummaryToShare(loaded: LoadedSiteData, checked: CheckedSiteData, options: Pick<SiteDataOptions, 'impute'>, labelCounts: ArrayLike<number>): DataSummaryCounts {
  if (checked.text) {
    return dataSummaryCounts({ examples: checked.text.texts.length, labelCounts, duplicatesDropped: loaded.text!.texts.length - checked.text.texts.length });
  }
  const report = checked.report!;
  const featureNames = loaded.schema?.columns.map((c) => c.name);
  return dataSummaryCounts({
    examples: checked.dataset!.y.length,
    labelCounts,
    duplicatesDropped: report.examples - checked.dataset!.y.length,
    missingImputed: options.impute !== 'none' ? report.missing.count : 0,
    constantFeatures: report.constantFeatures.count,
    ...(featureNames ? { featureNames } : {}),
  });
}
