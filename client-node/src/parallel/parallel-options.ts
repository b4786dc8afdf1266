import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { FedtuneError } from '@fedtune/shared';

/** The most training threads a site may start. */
export const MAX_TRAINING_WORKERS = 256;

/**
 * How a Node site trains (`fedtune client --workers N --sync-every K`). The defaults live here only:
 * `workers` defaults to the cores this machine has (1 = the in-process loop, no threads); `syncEvery` 1
 * averages the gradients of every batch (the same weights as one thread up to float rounding), k > 1 lets
 * every worker take k local steps before their weights are averaged (local SGD).
 */
export const ParallelTraining = z.object({
  workers: z
    .number()
    .int()
    .min(1)
    .max(MAX_TRAINING_WORKERS)
    .default(() => Math.min(availableParallelism(), MAX_TRAINING_WORKERS)),
  syncEvery: z.number().int().min(1).max(10_000).default(1),
});
export type ParallelTraining = z.output<typeof ParallelTraining>;

/** Parses parallel-training settings (absent fields take the defaults above); bad values are a `config` error naming the field. */
export function parallelTraining(input: { workers?: number; syncEvery?: number } = {}): ParallelTraining {
  const parsed = ParallelTraining.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path[0] === 'syncEvery' ? 'sync-every' : 'workers';
  throw new FedtuneError('config', `--${field}: ${issue.message}`.slice(0, 300));
}
