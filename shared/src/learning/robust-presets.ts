import type { TrainConfig } from '../messages/schemas.ts';

/** The robust-training part of a TrainConfig (merged into the coordinator's `train` config). */
export type RobustTrainingOptions = Pick<TrainConfig, 'augmentation' | 'adversarial' | 'proximalMu' | 'weightDecay' | 'dropout' | 'earlyStopping'>;

/**
 * The two arms of `fedtune simulate --preset robust`: the same federation fine-tuned plainly and with
 * adversarial training. PGD (5 steps of 2.5·ε/5, random start) at ε = 0.1 on half of every batch
 * (Madry et al. 2018 with Goodfellow et al.'s clean/adversarial mix, which keeps clean accuracy).
 */
export const ROBUST_PRESET: Readonly<Record<'plain' | 'adversarial', RobustTrainingOptions>> = Object.freeze({
  plain: {},
  adversarial: { adversarial: { method: 'pgd', share: 0.5, eps: 0.1, steps: 5 } },
});
