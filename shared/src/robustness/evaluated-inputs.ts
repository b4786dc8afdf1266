import { z } from 'zod';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * The model `fedtune evaluate` evaluated: its directory (an absolute path) and the SHA-256 of its files, so a
 * report names exactly which weights its numbers are for (a directory may be overwritten later).
 */
export const EvaluatedModelSchema = z.object({
  path: z.string(),
  /** SHA-256 of weights.bin (the weights). */
  weightsSha256: Sha256,
  /** SHA-256 of model.json (the architecture, and the temperature and holdout it saved). */
  modelJsonSha256: Sha256,
});

/** The data `fedtune evaluate` evaluated on: a built-in held-out set by name, or a CSV file (absolute path) with its SHA-256. */
export const EvaluatedDataSchema = z.union([
  z.object({ builtin: z.string() }),
  z.object({ path: z.string(), sha256: Sha256 }),
]);

export type EvaluatedModel = z.infer<typeof EvaluatedModelSchema>;
export type EvaluatedData = z.infer<typeof EvaluatedDataSchema>;
