import { describe, expect, it } from 'vitest';
import {
  BULYAN_DEFAULTS,
  CENTEREDCLIP_DEFAULTS,
  FEDADAGRAD_DEFAULTS,
  FEDADAM_DEFAULTS,
  FEDAVGM_DEFAULTS,
  FEDMEDIAN_DEFAULTS,
  FEDPROX_DEFAULTS,
  FEDTRIMMEDAVG_DEFAULTS,
  FEDYOGI_DEFAULTS,
  KRUM_DEFAULTS,
  MULTIKRUM_DEFAULTS,
  NORMCLIP_DEFAULTS,
  getStrategy,
  strategyNames,
  type TrainSettings,
  type WeightArrays,
  type WeightedUpdate,
} from '@fedtune/shared';

/**
 * Every option of every strategy in the registry changes what the strategy does: a non-default value
 * changes the aggregate of a fixed, hand-made set of updates over three rounds (state carried forward), or
 * — for options that are the sites' to apply — the training settings configureTrain sends. A strategy
 * added to the registry without an entry here, or an option added to a strategy's defaults without a
 * non-default value here, fails the table.
 */

/** Each strategy's documented defaults (the *_DEFAULTS of its file). */
const DEFAULTS: Record<string, Readonly<Record<string, unknown>>> = {
  fedavg: {},
  fedavgm: FEDAVGM_DEFAULTS,
  fedprox: FEDPROX_DEFAULTS,
  fedadam: FEDADAM_DEFAULTS,
  fedyogi: FEDYOGI_DEFAULTS,
  fedadagrad: FEDADAGRAD_DEFAULTS,
  fedmedian: FEDMEDIAN_DEFAULTS,
  fedtrimmedavg: FEDTRIMMEDAVG_DEFAULTS,
  krum: KRUM_DEFAULTS,
  multikrum: MULTIKRUM_DEFAULTS,
  bulyan: BULYAN_DEFAULTS,
  normclip: NORMCLIP_DEFAULTS,
  centeredclip: CENTEREDCLIP_DEFAULTS,
};

/** A non-default value for every `strategy.option`. */
const NON_DEFAULT: Record<string, unknown> = {
  'fedavgm.serverLr': 0.5,
  'fedavgm.momentum': 0,
  'fedprox.proximalMu': 1,
  'fedadam.serverLr': 0.1,
  'fedadam.beta1': 0.5,
  'fedadam.beta2': 0.5,
  'fedadam.tau': 0.5,
  'fedyogi.serverLr': 0.1,
  'fedyogi.beta1': 0.5,
  'fedyogi.beta2': 0.5,
  'fedyogi.tau': 0.5,
  'fedadagrad.serverLr': 0.1,
  'fedadagrad.beta1': 0.5,
  'fedadagrad.tau': 0.5,
  'fedtrimmedavg.beta': 0.4,
  'krum.f': 2,
  'multikrum.f': 2,
  'multikrum.m': 1,
  'bulyan.f': 1,
  'normclip.maxNorm': 0.5,
  'centeredclip.radius': 0.2,
  'centeredclip.iterations': 1,
};

/** Options the sites apply (sent with the round's training settings), not the aggregation. */
const SITE_SIDE = new Set(['fedprox.proximalMu']);

const GLOBAL: WeightArrays = [new Float32Array([0, 0, 0]), new Float32Array([1])];

/** Seven sites (Bulyan with f = 1 needs 4f + 3), one of them far off, with unequal example counts. */
const UPDATES: WeightedUpdate[] = [
  [0.1, 0.2, 0.3, 1.1],
  [0.2, 0.1, 0.4, 1.2],
  [0.15, 0.25, 0.2, 0.9],
  [0.3, 0.3, 0.1, 1.0],
  [0.05, 0.1, 0.35, 1.3],
  [0.9, -0.6, 0.8, 2.0],
  [4, 5, -3, 6],
].map((v, k) => ({ siteId: `site-${k + 1}`, weights: [new Float32Array(v.slice(0, 3)), new Float32Array(v.slice(3))], numExamples: [10, 20, 30, 40, 50, 60, 5][k] }));

/** Three rounds with the same updates, state carried forward: the weights after round 3. */
function aggregateThreeRounds(name: string, options: Record<string, unknown>): number[] {
  const strategy = getStrategy(name);
  let state = strategy.initialState(options);
  let global = GLOBAL;
  for (let round = 0; round < 3; round++) {
    const out = strategy.aggregate(global, UPDATES, state, options);
    state = out.state;
    global = out.weights;
  }
  return global.flatMap((t) => Array.from(t));
}

const TRAIN: TrainSettings = { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all' };

function configureTrain(name: string, options: Record<string, unknown>): TrainSettings {
  const strategy = getStrategy(name);
  const state = strategy.initialState(options);
  return strategy.configureTrain ? strategy.configureTrain(TRAIN, { round: 1, state, options }) : TRAIN;
}

describe('every strategy option has an effect', () => {
  it('the table covers every strategy in the registry and every option in its defaults', () => {
    expect(Object.keys(DEFAULTS).sort()).toEqual([...strategyNames].sort());
    const options = Object.entries(DEFAULTS).flatMap(([name, d]) => Object.keys(d).map((key) => `${name}.${key}`));
    expect(Object.keys(NON_DEFAULT).sort()).toEqual(options.sort());
  });

  const cases = Object.entries(DEFAULTS).flatMap(([name, d]) => Object.keys(d).map((key) => [name, key] as const));
  it.each(cases)('%s: a non-default %s changes what the strategy does', (name, key) => {
    const value = NON_DEFAULT[`${name}.${key}`];
    expect(value).not.toEqual(DEFAULTS[name][key]);
    if (SITE_SIDE.has(`${name}.${key}`)) {
      const plain = configureTrain(name, {});
      const changed = configureTrain(name, { [key]: value });
      expect(changed).not.toEqual(plain);
      expect((changed as Record<string, unknown>)[key]).toBe(value);
      return;
    }
    const plain = aggregateThreeRounds(name, {});
    const changed = aggregateThreeRounds(name, { [key]: value });
    // Giving the default explicitly changes nothing; the non-default value changes the weights.
    expect(aggregateThreeRounds(name, { [key]: DEFAULTS[name][key] })).toEqual(plain);
    expect(changed).not.toEqual(plain);
  });

  it.each(['krum', 'multikrum', 'bulyan'])('%s takes f from the expected number of malicious sites when f is not given', (name) => {
    const strategy = getStrategy(name);
    expect(strategy.completeOptions).toBeDefined();
    const completed = strategy.completeOptions!({}, { expectedMaliciousSites: 1 }) as Record<string, unknown>;
    expect(completed.f).toBe(1);
    expect(aggregateThreeRounds(name, completed)).not.toEqual(aggregateThreeRounds(name, {}));
    // A given f always wins.
    expect((strategy.completeOptions!({ f: 0 }, { expectedMaliciousSites: 1 }) as Record<string, unknown>).f).toBe(0);
  });
});
