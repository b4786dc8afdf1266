import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { FedtuneError } from '@fedtune/shared';

/** The most fit threads a simulation may start. */
export const MAX_FIT_POOL_WORKERS = 256;

/**
 * How a simulation trains its sites (`fedtune simulate --workers N`). The default lives here only: the cores
 * this machine has; 1 = every site's fit on the main thread (no threads), N > 1 = each site's whole fit on one
 * of N worker threads shared by all sites.
 */
export const FitPoolOptions = z.object({
  workers: z
    .number()
    .int()
    .min(1)
    .max(MAX_FIT_POOL_WORKERS)
    .default(() => Math.min(availableParallelism(), MAX_FIT_POOL_WORKERS)),
});
export type FitPoolOptions = z.output<typeof FitPoolOptions>;

/** Parses fit-pool settings (an absent `workers` takes the default above); a bad value is a `config` error naming --workers. */
export function fitPoolOptions(input: { workers?: number } = {}): FitPoolOptions {
  const parsed = FitPoolOptions.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new FedtuneError('config', `--workers: ${parsed.error.issues[0].message}`.slice(0, 300));
}
