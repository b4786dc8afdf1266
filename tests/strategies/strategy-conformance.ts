import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { getStrategy } from '../../shared/src/strategies/registry.ts';
import type { Strategy, WeightedUpdate } from '../../shared/src/strategies/strategy.ts';
import type { WeightArrays } from '../../shared/src/weights.ts';
import { bits, errorCode, isPlainData, randomArrays, upd } from './helpers.ts';

export interface StrategyUnderTest {
  strategy: Strategy<any, any>;
  /** Options for the tests (e.g. f for the Krum family); the fixture has 7 updates. */
  options: Record<string, unknown>;
  /**
   * 'average': identical updates w give w. 'server-optimizer': only a zero pseudo-gradient (every update
   * equal to the global model) is guaranteed to leave the model unchanged.
   */
  identity: 'average' | 'server-optimizer';
}

const SIZES = [6, 3, 1];
const N = 7;

/** A global model and 7 updates a small step from it (delta norm < 1, inside every default clip bound). */
function fixture(seed = 1): { global: WeightArrays; updates: WeightedUpdate[] } {
  const rng = new SeededRandom(seed);
  const global = randomArrays(rng, SIZES);
  const updates = Array.from({ length: N }, (_, k) => upd(`site-${k}`, randomArrays(rng, SIZES, 0.05, global), 1 + rng.int(50)));
  return { global, updates };
}

/** 7 updates a small step (seeded) from `global`. */
function stepsFrom(global: WeightArrays, seed: number): WeightedUpdate[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: N }, (_, k) => upd(`site-${k}`, randomArrays(rng, SIZES, 0.05, global), 1 + rng.int(50)));
}

const snapshot = (global: WeightArrays, updates: WeightedUpdate[], state: unknown) => bits({ global, updates, state });

/**
 * The suite every registered strategy passes: layout, identity, purity, determinism, order invariance,
 * plain-data state across rounds, and typed errors on bad input.
 */
export function runStrategyConformance(cases: StrategyUnderTest[]): void {
  for (const { strategy, options, identity } of cases) {
    describe(`strategy ${strategy.name} (conformance)`, () => {
      const run = (global: WeightArrays, updates: WeightedUpdate[], state = strategy.initialState(options)) =>
        strategy.aggregate(global, updates, state, options);

      it('is registered under its name and names its paper', () => {
        expect(getStrategy(strategy.name)).toBe(strategy);
        expect(strategy.reference.length).toBeGreaterThan(10);
      });

      it("returns new Float32Arrays in the global model's layout", () => {
        const { global, updates } = fixture();
        const { weights } = run(global, updates);
        expect(weights.map((w) => w.length)).toEqual(SIZES);
        for (const w of weights) {
          expect(w).toBeInstanceOf(Float32Array);
          for (const input of [...global, ...updates.flatMap((u) => u.weights)]) expect(w.buffer).not.toBe(input.buffer);
          for (const v of w) expect(Number.isFinite(v)).toBe(true);
        }
      });

      it('leaves the model unchanged when every update equals it (zero pseudo-gradient)', () => {
        const { global } = fixture();
        const updates = Array.from({ length: N }, (_, k) => upd(`site-${k}`, global.map((a) => a.slice()), k + 1));
        const { weights } = run(global, updates);
        for (let t = 0; t < SIZES.length; t++) for (let i = 0; i < SIZES[t]; i++) expect(weights[t][i]).toBeCloseTo(global[t][i], 6);
      });

      if (identity === 'average') {
        it('gives the common model when every update is the same', () => {
          const { global, updates } = fixture();
          const same = updates.map((u, k) => upd(u.siteId, updates[0].weights.map((a) => a.slice()), k + 1));
          const { weights } = run(global, same);
          for (let t = 0; t < SIZES.length; t++) {
            for (let i = 0; i < SIZES[t]; i++) expect(weights[t][i]).toBeCloseTo(updates[0].weights[t][i], 6);
          }
        });
      }

      it('does not mutate its inputs and is deterministic (bit-identical on the same inputs and state)', () => {
        const { global, updates } = fixture();
        let state = strategy.initialState(options);
        state = run(global, updates, state).state; // a non-trivial state for the stateful strategies
        const before = snapshot(global, updates, state);
        const a = run(global, updates, state);
        const b = run(global, updates, state);
        expect(snapshot(global, updates, state)).toBe(before);
        expect(bits(a)).toBe(bits(b));
      });

      it('does not depend on the order of the updates', () => {
        const { global, updates } = fixture();
        const a = run(global, updates).weights;
        const b = run(global, [...updates].reverse()).weights;
        for (let t = 0; t < SIZES.length; t++) for (let i = 0; i < SIZES[t]; i++) expect(b[t][i]).toBeCloseTo(a[t][i], 6);
      });

      it('returns plain-data state that round-trips through a checkpoint across 3 rounds', () => {
        let global = fixture().global;
        let live = strategy.initialState(options);
        let restored = structuredClone(live);
        for (let round = 1; round <= 3; round++) {
          const shifted = stepsFrom(global, round + 10);
          const a = run(global, shifted, live);
          const b = run(global, shifted, restored);
          expect(isPlainData(a.state)).toBe(true);
          expect(bits(b)).toBe(bits(a));
          expect(bits(structuredClone(a.state))).toBe(bits(a.state));
          if (a.state !== null && typeof a.state === 'object' && 'round' in a.state) expect(a.state.round).toBe(round);
          live = a.state;
          restored = structuredClone(b.state);
          global = a.weights;
        }
      });

      it('throws typed errors on bad input', () => {
        const { global, updates } = fixture();
        const withWeights = (k: number, weights: WeightArrays) => updates.map((u, j) => (j === k ? upd(u.siteId, weights, u.numExamples) : u));
        const withCount = (numExamples: number) => updates.map((u, j) => (j === 2 ? upd(u.siteId, u.weights, numExamples) : u));
        expect(errorCode(() => run(global, []))).toBe('no_updates');
        expect(errorCode(() => run(global, withWeights(3, [new Float32Array(6), new Float32Array(4), new Float32Array(1)])))).toBe('shape_mismatch');
        expect(errorCode(() => run(global, withWeights(3, [new Float32Array(6), new Float32Array(3)])))).toBe('shape_mismatch');
        for (const bad of [0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(errorCode(() => run(global, withCount(bad)))).toBe('invalid_count');
      });

      it('rejects unknown options with a config error', () => {
        expect(errorCode(() => strategy.initialState({ ...options, noSuchOption: 1 }))).toBe('config');
        const { global, updates } = fixture();
        expect(errorCode(() => strategy.aggregate(global, updates, strategy.initialState(options), { ...options, noSuchOption: 1 }))).toBe('config');
      });

      it('runs with empty options (defaults), as the round engine calls it', () => {
        const { global, updates } = fixture();
        expect(strategy.aggregate(global, updates, strategy.initialState({}), {}).weights.length).toBe(SIZES.length);
      });
    });
  }
}
