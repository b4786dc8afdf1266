import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { bulyan } from './aggregate-bulyan.ts';
import { centeredClip } from './aggregate-centeredclip.ts';
import { fedAdagrad } from './aggregate-fedadagrad.ts';
import { fedAdam } from './aggregate-fedadam.ts';
import { fedAvg } from './aggregate-fedavg.ts';
import { fedAvgM } from './aggregate-fedavgm.ts';
import { fedMedian } from './aggregate-fedmedian.ts';
import { fedProx } from './aggregate-fedprox.ts';
import { fedTrimmedAvg } from './aggregate-fedtrimmedavg.ts';
import { fedYogi } from './aggregate-fedyogi.ts';
import { krum } from './aggregate-krum.ts';
import { multiKrum } from './aggregate-multikrum.ts';
import { normClip } from './aggregate-normclip.ts';
import type { Strategy } from './strategy.ts';

const all: Array<Strategy<any, any>> = [
  fedAvg,
  fedAvgM,
  fedProx,
  fedAdam,
  fedYogi,
  fedAdagrad,
  fedMedian,
  fedTrimmedAvg,
  krum,
  multiKrum,
  bulyan,
  normClip,
  centeredClip,
];

/** Every strategy, by its stable command-line name. */
export const strategies: Record<string, Strategy<any, any>> = Object.fromEntries(all.map((s) => [s.name, s]));

/** The stable names, in registry order. */
export const strategyNames: readonly string[] = Object.freeze(all.map((s) => s.name));

/** Other spellings accepted by getStrategy (the names written in issue 5), mapped to the stable name. */
export const strategyAliases: Readonly<Record<string, string>> = Object.freeze({
  median: 'fedmedian',
  'trimmed-mean': 'fedtrimmedavg',
  'multi-krum': 'multikrum',
  'norm-bound': 'normclip',
  'centered-clipping': 'centeredclip',
});

/** The stable name for a name or alias; throws FedtuneError('config') if it is neither. */
export function canonicalStrategyName(name: string): string {
  if (Object.hasOwn(strategies, name)) return name;
  if (Object.hasOwn(strategyAliases, name)) return strategyAliases[name];
  throw new FedtuneError('config', `unknown strategy ${quoteClipped(name)} (known: ${Object.keys(strategies).join(', ')})`);
}

export function getStrategy(name: string): Strategy<any, any> {
  return strategies[canonicalStrategyName(name)];
}

/** Strategies that must see each site's update on its own, not only their sum. */
const individual = new Set(['fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'bulyan', 'normclip', 'centeredclip']);

/**
 * True when the strategy needs every update individually (order statistics, distances, per-update norms),
 * so it cannot run over secure aggregation, which reveals only the sum. Throws on an unknown name.
 */
export function strategyNeedsIndividualUpdates(name: string): boolean {
  return individual.has(canonicalStrategyName(name));
}
