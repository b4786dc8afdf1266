import { DEFAULT_RANDOM_TRIALS, type SweepSettings } from './sweep-settings.ts';
import { gridTrials, type TrialParams } from './grid-search.ts';
import { randomTrials } from './random-search.ts';
import { rungRounds } from './successive-halving.ts';

/** A sweep's plan: its first-rung trials (numbered from 0) and the rounds of each rung. */
export interface SweepPlan {
  trials: Array<{ trial: number; params: TrialParams }>;
  rungs: number[];
}

/** The plan `settings` make; the same settings always make the same plan (random search is seeded). */
export function planSweep(settings: SweepSettings): SweepPlan {
  const params = settings.search === 'grid' ? gridTrials(settings.space) : randomTrials(settings.space, settings.trials ?? DEFAULT_RANDOM_TRIALS, settings.seed);
  return { trials: params.map((p, trial) => ({ trial, params: p })), rungs: rungRounds(settings.minRounds, settings.maxRounds, settings.eta) };
}
