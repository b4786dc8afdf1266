import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { getStrategy } from '../../shared/src/strategies/registry.ts';
import type { WeightedUpdate } from '../../shared/src/strategies/strategy.ts';
import type { WeightArrays } from '../../shared/src/weights.ts';
import { distance, upd } from './helpers.ts';

/**
 * 8 honest sites near one point and 2 attackers sending ±1e3 vectors (random signs per coordinate), from a
 * global model 0.3 away from the honest point. Bulyan runs with f = 1: n = 10 < 4·2 + 3 allows no more,
 * and its Krum selection still leaves both attackers out.
 */
function federation(): { global: WeightArrays; updates: WeightedUpdate[]; honestMean: WeightArrays } {
  const rng = new SeededRandom(2024);
  const sizes = [40, 9];
  const point = sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal()));
  const global = point.map((p) => p.map((v) => v - 0.3 / Math.sqrt(49)));
  const honest = Array.from({ length: 8 }, () => point.map((p) => p.map((v) => v + 0.01 * rng.normal())));
  const attackers = Array.from({ length: 2 }, () => sizes.map((n) => Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -1e3 : 1e3))));
  const updates = [...honest, ...attackers].map((w, k) => upd(`site-${k}`, w, 100 + k));
  const honestMean = sizes.map((n, t) => Float32Array.from({ length: n }, (_, i) => honest.reduce((s, w) => s + w[t][i], 0) / 8));
  return { global, updates, honestMean };
}

const cases: Array<[string, Record<string, unknown>, number]> = [
  ['fedmedian', {}, 0.05],
  ['fedtrimmedavg', { beta: 0.2 }, 0.05],
  ['krum', { f: 2 }, 0.1],
  ['multikrum', { f: 2 }, 0.05],
  ['bulyan', { f: 1 }, 0.05],
  // Each attacker moves the centre by at most τ/n = 0.1 per iteration: the bias stays below τ·f/(n − f).
  ['centeredclip', { radius: 1, iterations: 3 }, 0.3],
];

describe('robustness: 8 honest updates and 2 attackers at ±1e3', () => {
  it('FedAvg is dragged far from the honest mean', () => {
    const { global, updates, honestMean } = federation();
    const s = getStrategy('fedavg');
    expect(distance(s.aggregate(global, updates, null, {}).weights, honestMean)).toBeGreaterThan(100);
  });

  for (const [name, options, bound] of cases) {
    it(`${name} stays within ${bound} of the honest mean`, () => {
      const { global, updates, honestMean } = federation();
      const s = getStrategy(name);
      const { weights } = s.aggregate(global, updates, s.initialState(options), options);
      expect(distance(weights, honestMean)).toBeLessThan(bound);
    });
  }

  it('normclip bounds the attackers to a shift of at most their share of M', () => {
    const { global, updates, honestMean } = federation();
    const s = getStrategy('normclip');
    const { weights } = s.aggregate(global, updates, null, { maxNorm: 1 });
    // Honest deltas (norm ≈ 0.3) pass unclipped; each attacker adds at most share · M ≈ 0.1.
    expect(distance(weights, honestMean)).toBeLessThan(0.3);
  });
});
