import { describe, expect, it } from 'vitest';
import {
  canonicalStrategyName,
  getStrategy,
  strategies,
  strategyAliases,
  strategyNames,
  strategyNeedsIndividualUpdates,
} from '../../shared/src/strategies/registry.ts';
import { errorCode } from './helpers.ts';

describe('strategy registry', () => {
  it('registers the stable names', () => {
    expect(strategyNames).toEqual([
      'fedavg', 'fedavgm', 'fedprox', 'fedadam', 'fedyogi', 'fedadagrad', 'fedmedian',
      'fedtrimmedavg', 'krum', 'multikrum', 'bulyan', 'normclip', 'centeredclip',
    ]);
    for (const name of strategyNames) expect(strategies[name].name).toBe(name);
  });

  it("resolves issue 5's command-line spellings as aliases", () => {
    for (const [alias, name] of Object.entries(strategyAliases)) expect(getStrategy(alias)).toBe(strategies[name]);
    expect(canonicalStrategyName('trimmed-mean')).toBe('fedtrimmedavg');
    expect(errorCode(() => getStrategy('toString'))).toBe('config');
    expect(errorCode(() => getStrategy('nope'))).toBe('config');
  });

  it('says which strategies need individual updates (no secure aggregation)', () => {
    const individual = strategyNames.filter(strategyNeedsIndividualUpdates);
    expect(individual).toEqual(['fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'bulyan', 'normclip', 'centeredclip']);
    expect(strategyNeedsIndividualUpdates('centered-clipping')).toBe(true);
    expect(errorCode(() => strategyNeedsIndividualUpdates('nope'))).toBe('config');
  });
});
