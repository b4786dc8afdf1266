import { digitsHeadlineEps } from '../data/digits-task.ts';
import type { TrainConfig } from '../messages/schemas.ts';

/** The robust-training part of a TrainConfig (merged into the coordinator's `train` config). */
export type RobustTrainingOptions = Pick<TrainConfig, 'augmentation' | 'adversarial' | 'proximalMu' | 'weightDecay' | 'dropout' | 'earlyStopping' | 'learningRate' | 'learningRateSchedule'>;

/** `fedtune simulate --preset robust`: both arms, and the federation settings they share. */
export interface RobustPreset {
  /** The architecture both arms fine-tune. */
  architecture: 'cnn-dense';
  /** Rounds of both arms (the same length: the clean cost is measured against a plain run as long). */
  rounds: number;
  plain: RobustTrainingOptions;
  adversarial: RobustTrainingOptions;
}

/**
 * Adam's learning rate of both arms: 3× the run config's default (0.001), at which one local epoch per round
 * of PGD-7 training learns too slowly (bench/results/robust-training-builtin-scout*.json: 5 rounds of the
 * cnn-dense, PGD-40 at the headline ε 15.5 % at 0.001, 28.5 % at 0.003). Both arms use it, so the clean cost
 * is measured against a plain run trained as fast.
 */
export const ROBUST_PRESET_LEARNING_RATE = 0.003;

/**
 * The robust preset of the built-in task (docs/robustness.md#the-robust-preset): the same federation
 * fine-tuned plainly and adversarially. The best settings measured (bench/robust-training.ts,
 * docs/benchmarks.md): the `cnn-dense` (the `cnn` plus a 128-unit hidden layer: the `cnn`'s linear head on
 * its 5 k parameters is the capacity limit of adversarial training; 5 rounds: PGD-40 8 % → 15.5 % at the same
 * learning rate), Adam at ROBUST_PRESET_LEARNING_RATE in both arms, PGD-7 (Madry et al. 2018, 2.5·ε/7
 * steps, random start) on every example of every batch at the task's headline ε (digitsHeadlineEps: 0.06
 * with the scanners, 0.1 on clean digits), 120 rounds with the scanners and 30 on clean digits. On the
 * scanners robust accuracy kept rising with rounds and the clean cost vanished
 * (bench/results/robust-training-builtin-r{20,60,120}.json: PGD-40 at the headline ε 49.5 → 58.5 → 64.0 %,
 * clean cost 3.0 points at 20 rounds, −1.0 at 120; 200 rounds gave no more). On clean digits 20 → 30 gained
 * in every paired run (three seeds, PGD-40 at ε 0.1 on 1000 attacked digits 87.2–87.6 % → 88.2–89.4 %, clean
 * +0.7–0.9 points). TRADES β = 6 at the same budget cost 18 clean points on the built-in task for less robust
 * accuracy (docs/benchmarks.md).
 * Explicit flags override any of it (`--arch`, `--rounds`, `--lr` both arms, the `--adv-*` flags the
 * adversarial arm only).
 */
export function robustPreset(featureShift = true): RobustPreset {
  return {
    architecture: 'cnn-dense',
    rounds: featureShift ? 120 : 30,
    plain: { learningRate: ROBUST_PRESET_LEARNING_RATE },
    adversarial: { learningRate: ROBUST_PRESET_LEARNING_RATE, adversarial: { method: 'pgd', share: 1, eps: digitsHeadlineEps(featureShift), steps: 7 } },
  };
}
