import { digitsHeadlineEps } from '../data/digits-task.ts';
import type { TrainConfig } from '../messages/schemas.ts';

/** The robust-training part of a TrainConfig (merged into the coordinator's `train` config). */
export type RobustTrainingOptions = Pick<TrainConfig, 'augmentation' | 'adversarial' | 'proximalMu' | 'weightDecay' | 'dropout' | 'earlyStopping'>;

/** `fedtune simulate --preset robust`: both arms, and the federation settings they share. */
export interface RobustPreset {
  /** The architecture both arms fine-tune. */
  architecture: 'cnn';
  /** Rounds of both arms (the same length: the clean cost is measured against a plain run as long). */
  rounds: number;
  plain: RobustTrainingOptions;
  adversarial: RobustTrainingOptions;
}

/**
 * The robust preset of the built-in task (docs/robustness.md#the-robust-preset): the same federation
 * fine-tuned plainly and adversarially. The settings that work (the measurements, bench/robust-training.ts):
 * the CNN (an MLP has too little capacity for adversarial training on these digits), every example of every
 * batch adversarial, TRADES (Zhang et al. 2019) with β = 6 and a PGD-7 inner maximisation at the task's
 * headline ε (digitsHeadlineEps: 0.06 with the scanners, 0.1 on clean digits), ε warmed up over 3 rounds, and
 * 10 rounds. Explicit flags override any of it (they apply to the adversarial arm only).
 */
export function robustPreset(featureShift = true): RobustPreset {
  return {
    architecture: 'cnn',
    rounds: 10,
    plain: {},
    adversarial: { adversarial: { method: 'trades', share: 1, eps: digitsHeadlineEps(featureShift), steps: 7, beta: 6, warmupRounds: 3 } },
  };
}
