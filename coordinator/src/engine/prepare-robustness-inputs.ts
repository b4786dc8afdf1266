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
 * At the start of every round: when this round evaluates robustness, asks the global model to start what
 * shares that evaluation (its robustness helper), which then starts and warms up while the sites train — not
 * earlier, where it would take CPU from the coordinator's busy rounds (a start costs ~0.1–0.2 s of CPU from
 * the bundle). Idempotent.
 */
export function prepareRobustnessHelper(model: GlobalModel, robustness: RobustnessEvaluationConfig, round: number, rounds: number): boolean {
  const { when, certify, ...options } = robustness;
  void certify;
  if (!model.prepareRobustnessHelper || !model.evaluateRobustness) return false;
  if (!shouldEvaluateRobustness(when, round, rounds)) return false;
  model.prepareRobustnessHelper(options);
  return true;
}
