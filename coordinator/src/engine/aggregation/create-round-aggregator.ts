import type { Strategy, StreamingFedAvgOptions } from '@fedtune/shared';
import type { DpNoise } from '../distributed-dp-aggregation.ts';
import type { RunConfig } from '../run-config.ts';
import { CentralDpAggregator } from './central-dp-aggregator.ts';
import { IndividualUpdatesAggregator } from './individual-updates-aggregator.ts';
import type { RoundAggregator } from './round-aggregator.ts';
import { SecureSumAggregator } from './secure-sum-aggregator.ts';
import { StreamingFedAvgAggregator } from './streaming-fedavg-aggregator.ts';

export interface RoundAggregatorChoice {
  config: Pick<RunConfig, 'dp' | 'secureAggregation' | 'strategyOptions'>;
  strategy: Strategy;
  /** Parameters per tensor of the model (its manifest's shapes). */
  lengths: readonly number[];
  /** Who adds DP noise (resolveDpNoise); only read with `config.dp`. */
  dpNoise?: DpNoise;
  /** Streaming FedAvg's kernel (tests pin 'js' or 'wasm'). */
  streaming?: StreamingFedAvgOptions;
}

/**
 * The run's aggregator: a secure sum under secure aggregation (finished by the strategy, or by DP-FedAvg on
 * the sum); central DP-FedAvg under DP; the exact streaming sum for plain FedAvg; otherwise the strategy
 * over every individual update.
 */
export function createRoundAggregator(choice: RoundAggregatorChoice): RoundAggregator {
  const { config, strategy, lengths } = choice;
  if (config.secureAggregation) {
    return new SecureSumAggregator(lengths, config.dp ? { mode: 'dp', dp: config.dp, noise: choice.dpNoise ?? 'central' } : { mode: 'strategy', strategy, strategyOptions: config.strategyOptions });
  }
  if (config.dp) return new CentralDpAggregator(config.dp, lengths);
  if (strategy.name === 'fedavg') return new StreamingFedAvgAggregator(lengths, choice.streaming);
  return new IndividualUpdatesAggregator(strategy, config.strategyOptions, lengths);
}
