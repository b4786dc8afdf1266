import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ADVERSARIAL_DEFAULTS, FedtuneError, type TrainConfig } from '@fedtune/shared';

/** The most fit threads a simulation may start. */
export const MAX_FIT_POOL_WORKERS = 256;

/**
 * How a simulation trains its sites (`fedtune simulate --workers N|auto`). The default lives here only: 'auto'
 * (see `resolveFitPoolWorkers`). 1 = every site's fit on the main thread (no threads); N > 1 = each site's whole
 * fit on one of N worker threads shared by all sites (the same weights).
 */
export const FitPoolOptions = z.object({
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(MAX_FIT_POOL_WORKERS)]).default('auto'),
});
export type FitPoolOptions = z.output<typeof FitPoolOptions>;

/** Parses fit-pool settings (an absent `workers` takes the default above); a bad value is a `config` error naming --workers. */
export function fitPoolOptions(input: { workers?: number | 'auto' } = {}): FitPoolOptions {
  const parsed = FitPoolOptions.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new FedtuneError('config', `--workers: ${parsed.error.issues[0].message}`.slice(0, 300));
}

/**
 * `--workers auto` trains on threads when one example's training costs at least this many forward
 * multiply-accumulates: below it a fit is too short for a thread to pay for the weights it is sent and returns.
 * Measured on 2 idle cores, `--workers 2` against 1 over a whole simulation (the same weights both ways): the
 * built-in MLP (0.1 M) 0.89×, the `cnn-dense` (0.24 M) 0.97× (14.5 against 14.0 s), the `cnn-wide` (0.76 M)
 * 1.2× plain and 1.46× with PGD-7 on every example (docs/performance.md#simulation-on-every-core).
 */
export const AUTO_THREADS_MIN_MACS_PER_EXAMPLE = 500_000;

/**
 * The forward passes one training example costs: 1, plus the attack's steps on the adversarial share of
 * each batch (PGD and TRADES: `steps`, FGSM: 1). A rough count (a backward pass costs about two forward
 * ones either way): enough to tell a short fit from a long one.
 */
export function trainingPassesPerExample(train: Pick<TrainConfig, 'adversarial'>): number {
  const adv = train.adversarial;
  if (!adv || !(adv.share > 0) || !(adv.eps > 0)) return 1;
  const steps = adv.method === 'fgsm' ? 1 : (adv.steps ?? ADVERSARIAL_DEFAULTS.steps);
  return 1 + adv.share * steps;
}

/** The fit threads a simulation runs, and why (the line it prints). */
export interface ResolvedFitWorkers {
  workers: number;
  why: string;
}

/**
 * Resolves `--workers`: a number is taken as it is; 'auto' gives every core (at most one thread per site) when
 * a training example costs at least AUTO_THREADS_MIN_MACS_PER_EXAMPLE forward multiply-accumulates (the model's
 * forward cost × `trainingPassesPerExample`), else 1 (the main thread).
 */
export function resolveFitPoolWorkers(
  workers: number | 'auto',
  facts: { forwardMacsPerExample: number; train: Pick<TrainConfig, 'adversarial'>; sites: number; cores?: number },
): ResolvedFitWorkers {
  if (workers !== 'auto') return { workers, why: `--workers ${workers}` };
  const passes = trainingPassesPerExample(facts.train);
  const macs = facts.forwardMacsPerExample * passes;
  const cost = `${(macs / 1e6).toFixed(2)} M multiply-accumulates per training example${passes > 1 ? ` (${passes.toFixed(passes % 1 ? 1 : 0)} passes: adversarial training)` : ''}`;
  if (!(macs >= AUTO_THREADS_MIN_MACS_PER_EXAMPLE)) return { workers: 1, why: `--workers auto: ${cost}, too short a fit for threads` };
  const cores = Math.max(1, Math.floor(facts.cores ?? availableParallelism()));
  const n = Math.max(1, Math.min(cores, Math.floor(facts.sites), MAX_FIT_POOL_WORKERS));
  return { workers: n, why: `--workers auto: ${cost}, ${n === cores ? `every core (${cores})` : `one per site (${n} of ${cores} cores)`}` };
}
