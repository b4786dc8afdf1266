import type { RunConfig } from '@fedtune/coordinator';

/**
 * One line saying which privacy protections a run has on, beyond raw data staying at the sites (printed by
 * `fedtune simulate` and `fedtune coordinator` as the run starts); undefined when it has none. Before, a run with
 * secure aggregation never said so: only report.json showed it.
 */
export function privacyLine(config: Pick<RunConfig, 'secureAggregation' | 'dp' | 'train'>): string | undefined {
  const parts: string[] = [];
  const sa = config.secureAggregation;
  if (sa) parts.push(`secure aggregation (sites mask their updates; the coordinator sees only each round's sum; clip ${sa.clip}${sa.threshold !== undefined ? `, threshold ${sa.threshold}` : ''})`);
  const dp = config.dp;
  if (dp) parts.push(`client-level DP (${dp.noise === 'distributed' ? 'the sites add' : 'the coordinator adds'} Gaussian noise ×${dp.noiseMultiplier} of the clip ${dp.clip}${dp.adaptive ? ' (adaptive)' : ''}, δ ${dp.delta}; ε per round in the table and the report)`);
  const sgd = config.train.dpSgd;
  if (sgd) parts.push(`DP-SGD at the sites (per-example clip ${sgd.clip}, noise ×${sgd.noiseMultiplier}; each site's ε in its privacy ledger)`);
  return parts.length ? `privacy: ${parts.join('; ')}` : undefined;
}
