import { describe, expect, it } from 'vitest';
import { createRoundAggregator } from '../../coordinator/src/engine/aggregation/create-round-aggregator.ts';
import { DpConfig } from '../../coordinator/src/engine/dp-aggregation.ts';
import { getStrategy } from '../../shared/src/strategies/registry.ts';
import { bytesOf, codeOf, FIXED_POINT, GLOBAL, itemsOf, LENGTHS } from './aggregator-cases.ts';

const dp = DpConfig.parse({ noiseMultiplier: 1, clip: 1, noiseSeed: 3 });
const secureAggregation = { clip: 1 } as never;

describe('createRoundAggregator chooses the aggregator from the run config', () => {
  const table: Array<[string, string, Parameters<typeof createRoundAggregator>[0]['config'], string]> = [
    ['plain fedavg', 'fedavg', { strategyOptions: {} }, 'streaming-fedavg'],
    ['fedavgm (a server optimizer)', 'fedavgm', { strategyOptions: {} }, 'individual-updates'],
    ['fedmedian', 'fedmedian', { strategyOptions: {} }, 'individual-updates'],
    ['fedavg under DP', 'fedavg', { strategyOptions: {}, dp }, 'central-dp'],
    ['fedavg under secure aggregation', 'fedavg', { strategyOptions: {}, secureAggregation }, 'secure-sum'],
    ['fedadam under secure aggregation', 'fedadam', { strategyOptions: {}, secureAggregation }, 'secure-sum'],
    ['DP under secure aggregation', 'fedavg', { strategyOptions: {}, secureAggregation, dp }, 'secure-sum'],
  ];
  for (const [what, strategy, config, kind] of table) {
    it(`${what} → ${kind}`, () => {
      expect(createRoundAggregator({ config, strategy: getStrategy(strategy), lengths: LENGTHS }).kind).toBe(kind);
    });
  }

  it('the strategy options reach the strategy (fedavgm serverLr 0.5 moves half way)', () => {
    const items = itemsOf([{ values: [1, 2, 3, 4, 5], n: 2 }]);
    const run = (serverLr: number) => {
      const a = createRoundAggregator({ config: { strategyOptions: { serverLr } }, strategy: getStrategy('fedavgm'), lengths: LENGTHS });
      a.begin({ runId: 'r', round: 1, attempt: 1, global: GLOBAL, strategyState: getStrategy('fedavgm').initialState({ serverLr }), selected: 1 });
      a.add(items[0]);
      return a.finish().weights;
    };
    const half = run(0.5);
    const whole = run(1);
    half.forEach((t, i) => t.forEach((v, j) => expect(v).toBeCloseTo((GLOBAL[i][j] + items[0].weights[i][j]) / 2, 5)));
    whole.forEach((t, i) => t.forEach((v, j) => expect(v).toBeCloseTo(items[0].weights[i][j], 5)));
  });

  it('the DP noise comes from dp.noiseSeed and the round; central DP needs the round clip', () => {
    const items = itemsOf([{ values: [1, 2, 3, 4, 5], n: 2 }]);
    const run = (seed: number, round: number) => {
      const a = createRoundAggregator({ config: { strategyOptions: {}, dp: { ...dp, noiseSeed: seed } }, strategy: getStrategy('fedavg'), lengths: LENGTHS });
      a.begin({ runId: 'r', round, attempt: 1, global: GLOBAL, strategyState: null, selected: 1, dpClip: 1 });
      a.add(items[0]);
      return bytesOf(a.finish().weights);
    };
    expect(run(3, 1)).toEqual(run(3, 1));
    expect(run(3, 1)).not.toEqual(run(4, 1));
    expect(run(3, 1)).not.toEqual(run(3, 2));
    const a = createRoundAggregator({ config: { strategyOptions: {}, dp }, strategy: getStrategy('fedavg'), lengths: LENGTHS });
    for (const dpClip of [undefined, 0, -1, Number.NaN, Infinity]) {
      expect(codeOf(() => a.begin({ runId: 'r', round: 1, attempt: 1, global: GLOBAL, strategyState: null, selected: 1, dpClip })), String(dpClip)).toBe('config');
    }
  });

  it('distributed DP adds no noise on the secure sum; central DP does', () => {
    const items = itemsOf([
      { values: [1, 2, 3, 4, 5], n: 2 },
      { values: [0, 1, 0, 1, 0], n: 2 },
    ]);
    const run = (noise: 'central' | 'distributed', noiseMultiplier: number) => {
      const a = createRoundAggregator({ config: { strategyOptions: {}, secureAggregation, dp: { ...dp, noiseMultiplier } }, strategy: getStrategy('fedavg'), lengths: LENGTHS, dpNoise: noise });
      a.begin({ runId: 'r', round: 1, attempt: 1, global: GLOBAL, strategyState: null, selected: 2, dpClip: 1, fixedPoint: FIXED_POINT });
      for (const u of items) (a as unknown as { addSum: (s: unknown) => void }).addSum({ sum: u.quantized, survivors: [{ siteId: u.siteId, numExamples: u.numExamples }] });
      return bytesOf(a.finish().weights);
    };
    expect(run('distributed', 1)).toEqual(run('distributed', 0));
    expect(run('central', 1)).not.toEqual(run('central', 0));
    expect(run('central', 0)).toEqual(run('distributed', 0));
  });
});
