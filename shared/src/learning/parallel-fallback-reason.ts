import type { TrainConfig } from '../messages/schemas.ts';

/** What decides whether a fit can run data-parallel, besides the config. */
export interface ParallelFitFacts {
  /** Class names of the model's layers (`layer.getClassName()`). */
  layerClassNames: string[];
  /** Whether the fit has a non-empty validation split (early stopping needs one to be on). */
  hasValidation: boolean;
}

/**
 * Why a fit must train on one thread instead of data-parallel worker threads, or undefined when it can
 * run in parallel. The parallel trainer runs the plain loop (`model.fit`'s numbers: cross-entropy, the
 * optimizer, dropout, trainable layers, maxExamples); every option that needs fitLocal's custom loop or
 * whole-batch statistics falls back. Pure.
 */
export function parallelFallbackReason(config: TrainConfig, facts: ParallelFitFacts): string | undefined {
  if (config.dpSgd) return 'DP-SGD clips and noises per example on one thread';
  if ((config.adversarial?.share ?? 0) > 0 && (config.adversarial?.eps ?? 0) > 0) return 'adversarial training runs on one thread';
  if ((config.augmentation?.share ?? 0) > 0) return 'augmentation runs on one thread';
  if ((config.proximalMu ?? 0) > 0) return 'the FedProx term (proximal μ) runs on one thread';
  if ((config.weightDecay ?? 0) > 0) return 'weight decay runs on one thread';
  if (config.earlyStopping && facts.hasValidation) return 'early stopping runs on one thread';
  if (config.localBatchNorm || facts.layerClassNames.includes('BatchNormalization')) {
    return 'the model has BatchNorm layers, whose batch statistics would be computed per worker';
  }
  return undefined;
}
