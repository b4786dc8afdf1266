import { classCounts, datasetSize, featureSize, type Dataset, type Splits } from '@fedtune/shared';

export interface DataSummary {
  source: string;
  examples: number;
  features: number;
  numClasses: number;
  /** Examples per class, with the class's display name. */
  classes: Array<{ label: string; count: number }>;
  split: { train: number; validation: number; test: number };
}

/** What the page shows before anything is sent: counts only, computed in the tab. */
export function summarizeData(source: string, data: Dataset, splits: Splits, labelNames?: string[]): DataSummary {
  return {
    source,
    examples: datasetSize(data),
    features: featureSize(data),
    numClasses: data.numClasses,
    classes: classCounts(data).map((count, i) => ({ label: labelNames?.[i] ?? String(i), count })),
    split: { train: datasetSize(splits.train), validation: datasetSize(splits.validation), test: datasetSize(splits.test) },
  };
}
