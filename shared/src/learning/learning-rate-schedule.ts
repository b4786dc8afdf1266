import type { LearningRateSchedule, TrainConfig } from '../messages/schemas.ts';

type WithSchedule = Pick<TrainConfig, 'learningRate' | 'learningRateSchedule'>;

/** The smallest learning rate a schedule sends (a step schedule over many rounds would otherwise reach 0, which the schema refuses). */
export const MIN_SCHEDULED_LEARNING_RATE = 1e-9;

/**
 * The factor on the learning rate in round `round` (1-based) of `rounds`: 'cosine' goes from 1 in round 1 to
 * `finalFactor` in round `rounds` along a half cosine, f + (1 − f)·(1 + cos(π·(r − 1)/(R − 1)))/2 (1 for a
 * one-round run); 'step' is factor^⌊(r − 1)/every⌋. Rounds outside [1, rounds] are clamped to it.
 */
export function learningRateFactor(schedule: LearningRateSchedule, round: number, rounds: number): number {
  const last = Math.max(1, rounds);
  const r = Math.min(Math.max(1, round), last);
  if (schedule.kind === 'step') return schedule.factor ** Math.floor((r - 1) / schedule.every);
  if (last === 1) return 1;
  const f = schedule.finalFactor;
  return f + ((1 - f) * (1 + Math.cos((Math.PI * (r - 1)) / (last - 1)))) / 2;
}

/**
 * The round's training settings under the learning-rate schedule: the learning rate scaled by
 * learningRateFactor (at least MIN_SCHEDULED_LEARNING_RATE) and the schedule itself dropped, so a site
 * trains at the rate it receives. Returns `train` itself when it has no schedule. Pure.
 */
export function scheduledTrain<T extends WithSchedule>(train: T, round: number, rounds: number): T {
  const schedule = train.learningRateSchedule;
  if (!schedule) return train;
  const { learningRateSchedule: _, ...rest } = train;
  return { ...rest, learningRate: Math.max(MIN_SCHEDULED_LEARNING_RATE, train.learningRate * learningRateFactor(schedule, round, rounds)) } as T;
}
