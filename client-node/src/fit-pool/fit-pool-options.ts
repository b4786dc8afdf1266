import { z } from 'zod';
import { FedtuneError } from '@fedtune/shared';

/** The most fit threads a simulation may start. */
export const MAX_FIT_POOL_WORKERS = 256;

/**
 * How a simulation trains its sites (`fedtune simulate --workers N`). The default lives here only: 1 = every
 * site's fit on the main thread (no threads); N > 1 = each site's whole fit on one of N worker threads shared
 * by all sites (the same weights). The default is 1 because, measured on 2 idle cores, the built-in task's fits
 * (~0.15 s each) are too short for the threads to pay for their start-up and transfers (`--workers 2`: 0.89×
 * of `--workers 1`, bench/simulate-workers.ts); larger sites or models can ask for threads.
 */
export const FitPoolOptions = z.object({
  workers: z
    .number()
    .int()
    .min(1)
    .max(MAX_FIT_POOL_WORKERS)
    .default(1),
});
export type FitPoolOptions = z.output<typeof FitPoolOptions>;

/** Parses fit-pool settings (an absent `workers` takes the default above); a bad value is a `config` error naming --workers. */
export function fitPoolOptions(input: { workers?: number } = {}): FitPoolOptions {
  const parsed = FitPoolOptions.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new FedtuneError('config', `--workers: ${parsed.error.issues[0].message}`.slice(0, 300));
}
