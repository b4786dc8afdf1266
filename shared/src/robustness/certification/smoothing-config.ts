import { z } from 'zod';

/**
 * Settings of randomized smoothing (CERTIFY, Cohen et al. 2019), with their defaults: the run config's
 * `robustness.certify` and `fedtune evaluate --certify` both take them from here. The defaults certify
 * 100 examples with 1,100 noisy forward passes each (seconds for the built-in MLP); with n = 1000 and
 * α = 0.001 no radius above σ·Φ⁻¹(α^(1/n)) ≈ 2.46σ can be certified.
 */
export const SmoothingConfig = z.object({
  /** Gaussian noise σ, in input units. */
  sigma: z.number().positive().max(100).default(0.25),
  /** Noisy samples to choose the top class. */
  n0: z.number().int().min(1).max(1_000_000).default(100),
  /** Noisy samples to bound its probability. */
  n: z.number().int().min(1).max(10_000_000).default(1000),
  /** Failure probability of each certificate. */
  alpha: z.number().gt(0).lt(1).default(0.001),
  /** L2 radii at which certified accuracy is reported. */
  radii: z.array(z.number().min(0).max(1e6)).min(1).max(32).default([0, 0.25, 0.5, 0.75, 1]),
  /** Examples certified (a seeded sample of the data; all if fewer). */
  examples: z.number().int().min(1).max(1_000_000).default(100),
  /** Noisy copies per forward pass: speed and memory only (the noise of each copy does not depend on it; randomized-smoothing.ts). */
  batchSize: z.number().int().min(1).max(65536).default(500),
  seed: z.number().int().min(0).default(0),
});
export type SmoothingConfig = z.output<typeof SmoothingConfig>;
export type SmoothingConfigInput = z.input<typeof SmoothingConfig>;
