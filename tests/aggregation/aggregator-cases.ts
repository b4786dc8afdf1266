import { DpConfig } from '../../coordinator/src/engine/dp-aggregation.ts';
import type { AggregationPlan, AggregatorUpdate, RoundAggregator } from '../../coordinator/src/engine/aggregation/round-aggregator.ts';
import { createRoundAggregator } from '../../coordinator/src/engine/aggregation/create-round-aggregator.ts';
import { SecureSumAggregator } from '../../coordinator/src/engine/aggregation/secure-sum-aggregator.ts';
import { fixedPointConfig, quantize } from '../../shared/src/privacy/fixed-point.ts';
import { getStrategy } from '../../shared/src/strategies/registry.ts';
import type { WeightArrays } from '../../shared/src/weights.ts';

/** The layout every case aggregates: two tensors. */
export const LENGTHS = [3, 2];
export const GLOBAL: WeightArrays = [new Float32Array([0.5, -0.25, 1]), new Float32Array([2, -1])];
export const FIXED_POINT = fixedPointConfig({ range: 8, sites: 16 });

/** One site's contribution: its update, and (secure sum) its quantized input. */
export interface Item extends AggregatorUpdate {
  quantized?: Uint32Array;
}

export interface AggregatorCase {
  name: string;
  make: () => RoundAggregator;
  /** The plan of round 2, attempt 1 of run "run-a", for `n` selected sites. */
  plan: (n: number) => AggregationPlan;
  /** Folds `items` in, in the order given (a secure sum: each item as its own protocol run's sum). */
  feed: (aggregator: RoundAggregator, items: readonly Item[]) => void;
  /** Whether the case's items carry quantized inputs (secure sum). */
  secure?: boolean;
  /** The fewest updates the case's strategy aggregates (Krum: 2f + 3). */
  minItems: number;
}

const dp = DpConfig.parse({ noiseMultiplier: 0.7, clip: 1.5, noiseSeed: 11 });
const dpAdaptive = DpConfig.parse({ noiseMultiplier: 0.7, clip: 1.5, noiseSeed: 11, adaptive: { targetQuantile: 0.5 } });

const addAll = (a: RoundAggregator, items: readonly Item[]): void => {
  for (const u of items) a.add({ siteId: u.siteId, weights: u.weights, numExamples: u.numExamples });
};
const addSums = (a: RoundAggregator, items: readonly Item[]): void => {
  for (const u of items) (a as SecureSumAggregator).addSum({ sum: u.quantized!, survivors: [{ siteId: u.siteId, numExamples: u.numExamples }] });
};

function planOf(strategyName: string, n: number): AggregationPlan {
  return { runId: 'run-a', round: 2, attempt: 1, global: GLOBAL, strategyState: getStrategy(strategyName).initialState({}), selected: n, dpClip: 1.5, fixedPoint: FIXED_POINT };
}

function caseOf(name: string, strategyName: string, config: Parameters<typeof createRoundAggregator>[0]['config'], dpNoise?: 'central' | 'distributed', minItems = 1): AggregatorCase {
  const secure = config.secureAggregation !== undefined;
  return {
    name,
    make: () => createRoundAggregator({ config, strategy: getStrategy(strategyName), lengths: LENGTHS, dpNoise, streaming: { kernel: 'js' } }),
    plan: (n) => planOf(strategyName, n),
    feed: secure ? addSums : addAll,
    secure,
    minItems,
  };
}

const secureAggregation = { clip: 1.5 } as never;

/** Every aggregator kind, and the finishing variants a kind has. */
export const CASES: AggregatorCase[] = [
  caseOf('streaming FedAvg', 'fedavg', { strategyOptions: {} }),
  caseOf('individual updates (fedmedian)', 'fedmedian', { strategyOptions: {} }),
  caseOf('individual updates (fedavgm, server state)', 'fedavgm', { strategyOptions: {} }),
  caseOf('individual updates (krum)', 'krum', { strategyOptions: { f: 0 } }, undefined, 3),
  caseOf('central DP', 'fedavg', { strategyOptions: {}, dp }),
  caseOf('central DP, adaptive clip', 'fedavg', { strategyOptions: {}, dp: dpAdaptive }),
  caseOf('secure sum (fedavg on the mean)', 'fedavg', { strategyOptions: {}, secureAggregation }),
  caseOf('secure sum (fedadam on the mean)', 'fedadam', { strategyOptions: {}, secureAggregation }),
  caseOf('secure sum, central DP', 'fedavg', { strategyOptions: {}, secureAggregation, dp }, 'central'),
  caseOf('secure sum, distributed DP', 'fedavg', { strategyOptions: {}, secureAggregation, dp }, 'distributed'),
];

/** Sites s00, s01, … with these weights and counts; quantized with weight n / Σn for the secure sum. */
export function itemsOf(rows: ReadonlyArray<{ values: number[]; n: number }>): Item[] {
  const total = rows.reduce((s, r) => s + r.n, 0);
  return rows.map((r, k) => {
    const weights = [Float32Array.from(r.values.slice(0, 3)), Float32Array.from(r.values.slice(3, 5))];
    const delta = weights.map((w, t) => w.map((v, i) => v - GLOBAL[t][i]));
    return { siteId: `s${String(k).padStart(2, '0')}`, weights, numExamples: r.n, quantized: quantize(delta, r.n / total, FIXED_POINT).data };
  });
}

/** The bytes of weights, for bit-identical comparisons. */
export function bytesOf(weights: WeightArrays): number[] {
  return weights.flatMap((w) => [...new Uint8Array(w.buffer, w.byteOffset, w.byteLength)]);
}

/** The FedtuneError code `fn` throws ('no error' when it returns). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? 'untyped';
  }
  return 'no error';
}
