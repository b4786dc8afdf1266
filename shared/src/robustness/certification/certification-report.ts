import { z } from 'zod';

const Fraction = z.number().min(0).max(1);

/**
 * Certified robustness of the smoothed classifier g(x) = argmax_c P(f(x + N(0, σ²I)) = c) (randomized
 * smoothing, Cohen et al. 2019, CERTIFY): each certified example is correct within an L2 ball of its radius
 * with probability ≥ 1 − α over the Monte Carlo noise.
 */
export const CertificationReportSchema = z.object({
  /** Standard deviation of the Gaussian noise, in input units. */
  sigma: z.number().positive(),
  /** Noise samples for choosing the class (n0) and for the lower confidence bound of its probability (n). */
  n0: z.number().int().min(1),
  n: z.number().int().min(1),
  /** Each certificate holds with probability ≥ 1 − alpha. */
  alpha: z.number().gt(0).lt(1),
  /** Examples certified (a seeded sample of the data). */
  examples: z.number().int().min(0),
  seed: z.number().int().min(0),
  /** Certified accuracy at each L2 radius: share of examples predicted correctly with a radius ≥ it. */
  radii: z.array(z.object({ radius: z.number().min(0), accuracy: Fraction })),
  /** Share of examples where the smoothed classifier abstains (lower bound of pA ≤ 1/2). */
  abstainRate: Fraction,
  /** Largest radius n samples can certify at this α: σ·Φ⁻¹(α^(1/n)). */
  maxRadius: z.number().min(0),
  /** Mean certified radius over the correctly certified examples (0 when none). */
  meanRadius: z.number().min(0),
  durationMs: z.number().min(0),
});
export type CertificationReport = z.infer<typeof CertificationReportSchema>;
