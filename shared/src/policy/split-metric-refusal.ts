import type { RunTerms } from '../messages/run-terms.ts';

/** Examples in a site's splits; a split not known yet (lazy data before it is loaded) is absent. */
export interface SplitSizes {
  train: number;
  validation?: number;
  test?: number;
}

/**
 * The last line of privacy.minExamplesPerMetric (docs/site-policy.md): the site's own splits. Whatever the terms
 * allow, a metric over a split of 5 examples describes those 5: the train split is reported on every round (its
 * loss and accuracy), the test split when the terms include a federated evaluation or a per-site report, the
 * validation split when they include federated calibration or personalisation (its sums and validation scores).
 * Pure: why the site cannot take part (one line per split), or nothing.
 */
export function splitMetricRefusals(terms: Pick<RunTerms, 'federatedEvaluation' | 'federatedCalibration' | 'siteReport'>, sizes: SplitSizes, min: number): string[] {
  const reasons: string[] = [];
  const tooSmall = (split: string, n: number | undefined, reported: string) => {
    if (n !== undefined && n < min) reasons.push(`this site's ${split} split holds ${n} examples, fewer than the policy's minExamplesPerMetric ${min} (${reported} would cover that few)`);
  };
  tooSmall('train', sizes.train, 'every round\'s training loss and accuracy');
  if (terms.federatedEvaluation !== 'never' || terms.siteReport) tooSmall('test', sizes.test, 'the evaluation metrics');
  if (terms.federatedCalibration || terms.siteReport?.personalization) tooSmall('validation', sizes.validation, 'the calibration sums and validation scores');
  return reasons;
}
