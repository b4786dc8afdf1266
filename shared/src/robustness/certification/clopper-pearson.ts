import { FedtuneError } from '../../errors.ts';
import { inverseRegularizedIncompleteBeta } from './incomplete-beta.ts';

/**
 * The one-sided Clopper–Pearson lower confidence bound of a binomial proportion: with probability at least
 * 1 − α over the n draws, the true proportion is ≥ the bound, given k successes. It is the α-quantile of
 * Beta(k, n − k + 1) (0 when k = 0) — statsmodels' proportion_confint(k, n, 2α, 'beta')[0] as Cohen et al.
 * use it. Throws FedtuneError('config') on counts that are not 0 ≤ k ≤ n, n ≥ 1, or α ∉ (0, 1).
 */
export function clopperPearsonLower(k: number, n: number, alpha: number): number {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 0 || k > n) throw new FedtuneError('config', `Clopper–Pearson needs integer counts 0 ≤ k ≤ n, n ≥ 1; got k=${k}, n=${n}`);
  if (!(alpha > 0 && alpha < 1)) throw new FedtuneError('config', `Clopper–Pearson α must be in (0, 1), got ${alpha}`);
  if (k === 0) return 0;
  return inverseRegularizedIncompleteBeta(alpha, k, n - k + 1);
}
