import { describe, expect, it } from 'vitest';
import { strategies, strategyNames } from '../../shared/src/strategies/registry.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { randomArrays } from './helpers.ts';

/**
 * `Strategy.ignoresExampleCounts` is what the run reads to refuse an `exampleWeightCap` that would bound
 * nothing (inactive-run-config-flags.ts): it must say exactly which strategies' aggregates do not move when
 * the sites' example counts change. Seven distinct updates (enough for Bulyan with f = 1), aggregated once
 * with equal counts and once with unequal ones.
 */
const OPTIONS: Record<string, Record<string, unknown>> = {
  fedprox: { proximalMu: 0.1 },
  fedtrimmedavg: { beta: 0.2 },
  krum: { f: 1 },
  multikrum: { f: 1, m: 3 },
  bulyan: { f: 1 },
  normclip: { maxNorm: 5 },
  centeredclip: { radius: 1, iterations: 3 },
};

describe('strategies that ignore example counts', () => {
  const rng = new SeededRandom(7);
  const global = randomArrays(rng, [6, 3]);
  const weights = Array.from({ length: 7 }, () => randomArrays(rng, [6, 3], 0.5, global));
  const run = (name: string, counts: number[]) => {
    const s = strategies[name];
    const options = OPTIONS[name] ?? {};
    return s.aggregate(global, weights.map((w, k) => ({ siteId: `s${k}`, weights: w, numExamples: counts[k] })), s.initialState(options), options).weights.map((a: Float32Array) => Array.from(a));
  };
  it.each([...strategyNames])('%s: ignoresExampleCounts says whether its aggregate moves with the counts', (name) => {
    const equal = run(name, [10, 10, 10, 10, 10, 10, 10]);
    const unequal = run(name, [1, 90, 10, 3, 40, 10, 200]);
    if (strategies[name].ignoresExampleCounts) expect(unequal).toEqual(equal);
    else expect(unequal).not.toEqual(equal);
  });
  it('the median, trimmed mean, Krum family and centered clipping are the ones (normclip weighs by counts)', () => {
    expect(strategyNames.filter((n) => strategies[n].ignoresExampleCounts).sort()).toEqual(['bulyan', 'centeredclip', 'fedmedian', 'fedtrimmedavg', 'krum', 'multikrum']);
  });
});
