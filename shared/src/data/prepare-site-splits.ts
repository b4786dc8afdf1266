import type { Splits } from './dataset.ts';
import { balanceClasses } from './balance-classes.ts';
import { applyImputation, fitImputation, type ImputeMethod } from './impute-missing.ts';

export interface SplitPreparation {
  impute: ImputeMethod | 'none';
  classWeights: 'none' | 'balanced';
  /** Seed of the balanced resampling. */
  seed: number;
}

/**
 * A site's splits as it trains on them: missing values imputed with values fitted on the train split only
 * (applied to all three), then, with balanced class weights, the train split resampled to equal class
 * shares. Validation and test keep their real distribution.
 */
export function prepareSiteSplits(splits: Splits, prep: SplitPreparation): Splits {
  let { train, validation, test } = splits;
  if (prep.impute !== 'none') {
    const fill = fitImputation(train, prep.impute);
    train = applyImputation(train, fill).dataset;
    validation = applyImputation(validation, fill).dataset;
    test = applyImputation(test, fill).dataset;
  }
  if (prep.classWeights === 'balanced') train = balanceClasses(train, prep.seed);
  return { train, validation, test };
}
