import { shouldEvaluateRobustness, type RobustnessEvaluationConfig } from '@fedtune/shared';
import type { GlobalModel } from './global-model.ts';

/**
 * At a run's first round: when any round of the run evaluates robustness, asks the global model to make the
 * evaluation's noisy and corrupted holdout copies now (on the evaluation worker, while the sites train), so
 * the robustness evaluation — the final round's is on the run's critical path — does not make them then.
 * Fire and forget: a failure here changes nothing (the evaluation makes its own inputs and reports its own
 * errors). Returns the preparation (tests) or undefined when nothing is prepared.
 */
export function prepareRobustnessInputs(model: GlobalModel, robustness: RobustnessEvaluationConfig, rounds: number): Promise<number> | undefined {
  const { when, certify, ...options } = robustness;
  void certify;
  if (!model.prepareRobustness || !model.evaluateRobustness) return undefined;
  // Every schedule but 'never' evaluates the final round.
  if (!shouldEvaluateRobustness(when, rounds, rounds)) return undefined;
  const preparing = model.prepareRobustness(options);
  preparing.catch(() => undefined);
  return preparing;
}

/**
 * At the start of every round: when this round or the next evaluates robustness, asks the global model to
 * start what shares that evaluation (its robustness helper, which then starts while the sites train, one
 * round ahead of the evaluation rather than at the run's start, when every core is busy). Idempotent.
 */
export function prepareRobustnessHelper(model: GlobalModel, robustness: RobustnessEvaluationConfig, round: number, rounds: number): boolean {
  const { when, certify, ...options } = robustness;
  void certify;
  if (!model.prepareRobustnessHelper || !model.evaluateRobustness) return false;
  if (!shouldEvaluateRobustness(when, round, rounds) && !(round < rounds && shouldEvaluateRobustness(when, round + 1, rounds))) return false;
  model.prepareRobustnessHelper(options);
  return true;
}
