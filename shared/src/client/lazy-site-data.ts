import { datasetSize, type Splits } from '../data/dataset.ts';

/**
 * A site's data made only when an instruction needs it (a virtual site: fedtune worker, large simulations):
 * the SiteClient calls `load()` when it is asked to fit, evaluate or report, and `release()` once it has
 * answered, and holds no reference to the data in between. `load()` must give the same splits every time.
 */
export interface LazySiteData {
  readonly lazy: true;
  /** Examples in the train split that `load()` returns (announced at hello, before any load). */
  readonly trainExamples: number;
  load(): Splits;
  /** The splits of the last `load()` are no longer used. */
  release(): void;
}

export function isLazySiteData(data: Splits | LazySiteData): data is LazySiteData {
  return (data as LazySiteData).lazy === true;
}

/** Examples in a site's train split, without loading lazy data. */
export function trainExamplesOf(data: Splits | LazySiteData): number {
  return isLazySiteData(data) ? data.trainExamples : datasetSize(data.train);
}
