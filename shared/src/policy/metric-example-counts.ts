import type { RunTerms } from '../messages/run-terms.ts';
import type { SiteReportTerms } from '../messages/site-report-schemas.ts';
import type { TrainConfig } from '../messages/schemas.ts';

/**
 * Counts of examples a coordinator may set that a site's reported metrics then cover, against the policy's
 * privacy.minExamplesPerMetric (docs/site-policy.md). A metric over one example is that example in disguise:
 * with crafted weights each round's training loss reveals one feature or the label of a chosen example, past
 * secure aggregation and DP. Pure: each returns why (one line per count), or nothing.
 */

const bound = (min: number) => `the policy's minExamplesPerMetric ${min}`;

/** train.maxExamples: the training loss and accuracy every fit reports cover at most this many examples. */
export function trainMetricRefusal(train: Pick<TrainConfig, 'maxExamples'>, min: number): string | undefined {
  const asked = train.maxExamples;
  return asked !== undefined && asked < min ? `the run asks for train.maxExamples ${asked}, fewer than ${bound(min)} (every round's reported training loss and accuracy would cover that few examples)` : undefined;
}

/** The per-site report's robustness: evaluated on `examples` test examples, the first `adversarialExamples` of them attacked (0: none). */
export function siteReportMetricRefusals(report: SiteReportTerms | undefined, min: number): string[] {
  const robustness = report?.robustness;
  if (!robustness) return [];
  const reasons: string[] = [];
  if (robustness.examples < min) reasons.push(`the run's site report evaluates robustness on ${robustness.examples} test examples, fewer than ${bound(min)}`);
  if (robustness.adversarialExamples > 0 && robustness.adversarialExamples < min) reasons.push(`the run's site report attacks ${robustness.adversarialExamples} test examples, fewer than ${bound(min)}`);
  return reasons;
}

/** Every count of the terms below the bound. */
export function metricCountRefusals(terms: Pick<RunTerms, 'train' | 'siteReport'>, min: number): string[] {
  const train = trainMetricRefusal(terms.train, min);
  return [...(train ? [train] : []), ...siteReportMetricRefusals(terms.siteReport, min)];
}
