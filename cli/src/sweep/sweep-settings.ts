import { z } from 'zod';
import { digitsHeadlineEps } from '@fedtune/shared';
import { OBJECTIVES } from './objective.ts';
import { SearchSpace } from './search-space.ts';

/**
 * Everything that decides a sweep's plan and its trials, as sweep.json stores it: a resumed sweep re-runs
 * exactly this. The defaults of the sweep's own settings live here (the CLI only overrides them).
 */
export const SweepSettings = z
  .object({
    space: SearchSpace,
    search: z.enum(['grid', 'random']).default('grid'),
    /** Random search: how many trials to draw (grid search has one per combination). */
    trials: z.number().int().min(1).max(10_000).optional(),
    /** Seeds random search (and is the federations' seed unless a parameter varies it): the run config's seed. */
    seed: z.number().int().min(0),
    minRounds: z.number().int().min(1).max(100_000).default(1),
    maxRounds: z.number().int().min(1).max(100_000).default(9),
    eta: z.number().int().min(2).max(100).default(3),
    objective: z.enum(OBJECTIVES).default('balanced'),
    /**
     * The ε of the PGD row read as a trial's robust accuracy (the trials' robustness evaluation always includes it).
     * Default: the built-in task's headline ε for the base federation — 0.06 on the scanners, 0.1 on clean digits
     * (digitsHeadlineEps; at 0.1 on the scanners every plain model scores 0 and the front has one point).
     */
    robustEps: z.number().gt(0).max(1).optional(),
    /** The simulated federation every trial runs, before the trial's own parameters. */
    base: z
      .object({
        sites: z.number().int().min(1).max(1000).default(4),
        partition: z.string().max(200).optional(),
        arch: z.string().max(64).optional(),
        featureShift: z.boolean().default(true),
        transport: z.enum(['memory', 'socket']).default('memory'),
        /** Run-config fields (the --config file's values, then the run-config flags), without rounds and runId. */
        config: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .default({ sites: 4, featureShift: true, transport: 'memory', config: {} }),
  })
  .strict()
  .refine((s) => s.minRounds <= s.maxRounds, { message: 'min-rounds must be ≤ max-rounds', path: ['minRounds'] })
  .refine((s) => s.search === 'random' || s.trials === undefined, { message: 'trials is for random search (a grid runs every combination)', path: ['trials'] })
  .transform((s) => ({ ...s, robustEps: s.robustEps ?? digitsHeadlineEps(s.base.featureShift) }));

export type SweepSettings = z.output<typeof SweepSettings>;
export type SweepSettingsInput = z.input<typeof SweepSettings>;

/** Random search's trial count when none is given. */
export const DEFAULT_RANDOM_TRIALS = 10;
