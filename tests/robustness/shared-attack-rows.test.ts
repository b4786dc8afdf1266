import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { defaultRobustnessHelper, loadModelDir, pretrainedModelDir, TfGlobalModel } from '@fedtune/coordinator';
import {
  ATTACK_ROW_CLAIMS,
  ATTACK_ROW_EVALUATOR,
  ATTACK_ROW_HELPER,
  ATTACK_ROW_UNCLAIMED,
  claimAttackRow,
  evaluateAttackRowsFromEnd,
  evaluateRobustness,
  newAttackRowClaims,
  warmUpAttackOptions,
  type Dataset,
  type RobustnessOptions,
  type RobustnessReport,
} from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { prepareRobustnessHelper } from '../../coordinator/src/engine/prepare-robustness-inputs.ts';
import type { GlobalModel } from '../../coordinator/src/engine/global-model.ts';
import { head, tempDir } from '../helpers/federation.ts';

/** The report without its wall-clock fields. */
const withoutTimes = ({ timings, durationMs, ...rest }: RobustnessReport) => {
  void timings;
  void durationMs;
  return rest;
};

// 4 PGD rows and 2 PGD-L2 rows: 6 shared rows.
const options: RobustnessOptions = { examples: 60, adversarialExamples: 10, pgdSteps: 3, noise: [0.2], corruptions: ['rotate', 'fog'], fgsm: [0.1], pgd: [0.05, 0.1, 0.2, 0.3], pgdL2: [0.5, 1], seed: 8 };
const ROWS = 6;

let model: tf.LayersModel;
let holdout: Dataset;
let plain: RobustnessReport;

beforeAll(async () => {
  await selectNodeBackend();
  holdout = head(builtinDigits().holdout, 200);
  model = await loadModelDir(pretrainedModelDir('mlp'));
  plain = await evaluateRobustness(model, holdout, options);
}, 120_000);
afterAll(() => model?.dispose());

function claimsWith(states: number[]): Int32Array {
  const claims = newAttackRowClaims();
  states.forEach((s, i) => Atomics.store(claims, i, s));
  return claims;
}

describe('claimAttackRow', () => {
  it('gives each row to the first claimant only; rows past the claims array are the evaluator’s', () => {
    const claims = newAttackRowClaims();
    expect(claims.length).toBe(ATTACK_ROW_CLAIMS);
    expect(claims.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(claimAttackRow(claims, 3, ATTACK_ROW_HELPER)).toBe(true);
    expect(claimAttackRow(claims, 3, ATTACK_ROW_EVALUATOR)).toBe(false);
    expect(claimAttackRow(claims, 3, ATTACK_ROW_HELPER)).toBe(false);
    expect(claims[3]).toBe(ATTACK_ROW_HELPER);
    expect(claimAttackRow(claims, 4, ATTACK_ROW_EVALUATOR)).toBe(true);
    expect(claims[4]).toBe(ATTACK_ROW_EVALUATOR);
    expect(claims[5]).toBe(ATTACK_ROW_UNCLAIMED);
    expect(claimAttackRow(claims, ATTACK_ROW_CLAIMS, ATTACK_ROW_EVALUATOR)).toBe(true);
    expect(claimAttackRow(claims, ATTACK_ROW_CLAIMS, ATTACK_ROW_HELPER)).toBe(false);
  });
});

describe('a robustness evaluation whose PGD rows a helper shares: the report one thread makes', () => {
  it('the helper claims from the last row down and stops at the evaluator’s first claim', async () => {
    const rows = await evaluateAttackRowsFromEnd(model, holdout, options, claimsWith([ATTACK_ROW_EVALUATOR, ATTACK_ROW_EVALUATOR]));
    expect(rows.rows.map((r) => r.index)).toEqual([5, 4, 3, 2]);
    // Rows 2, 3 are PGD at 0.2, 0.3; rows 4, 5 PGD-L2 at 0.5, 1: each exactly the single-thread row.
    expect(rows.rows.map((r) => r.row)).toEqual([plain.pgdL2![1], plain.pgdL2![0], plain.pgd[3], plain.pgd[2]]);
  });

  it.each([
    ['the helper took every row', ROWS],
    ['the helper took the last four rows', 4],
    ['the helper took the last row', 1],
  ])('%s: the evaluator takes the others and merges them in order', async (_, helperRows) => {
    const claims = claimsWith(Array.from({ length: ROWS }, (__, i) => (i < ROWS - helperRows ? ATTACK_ROW_EVALUATOR : ATTACK_ROW_UNCLAIMED)));
    const fromHelper = await evaluateAttackRowsFromEnd(model, holdout, options, claims);
    expect(fromHelper.rows).toHaveLength(helperRows);
    // Hand the evaluator the claims as they stand when it reaches its PGD rows: its own still unclaimed.
    for (let i = 0; i < ROWS - helperRows; i++) Atomics.store(claims, i, ATTACK_ROW_UNCLAIMED);
    const shared = await evaluateRobustness(model, holdout, options, { sharing: { claims, helperRows: Promise.resolve(fromHelper) } });
    expect(withoutTimes(shared)).toEqual(withoutTimes(plain));
    expect([...claims.subarray(0, ROWS)]).toEqual(Array.from({ length: ROWS }, (__, i) => (i < ROWS - helperRows ? ATTACK_ROW_EVALUATOR : ATTACK_ROW_HELPER)));
    // The helper's time counts in the PGD timing.
    expect(shared.timings.pgd).toBeGreaterThanOrEqual(fromHelper.ms);
  });

  it.each([
    ['delivers nothing', () => Promise.resolve(undefined)],
    ['fails', () => Promise.reject(new Error('helper crashed'))],
    ['delivers only some of its rows', () => Promise.resolve({ rows: [{ index: 5, row: plain.pgdL2![1], robust: new Uint8Array(10) }], ms: 1 })],
  ])('a helper that claimed rows and %s: the evaluator computes them, the report is whole', async (_, helperRows) => {
    const claims = claimsWith([0, 0, ATTACK_ROW_HELPER, ATTACK_ROW_HELPER, ATTACK_ROW_HELPER, ATTACK_ROW_HELPER]);
    const shared = await evaluateRobustness(model, holdout, options, { sharing: { claims, helperRows: helperRows() } });
    expect(withoutTimes(shared)).toEqual(withoutTimes(plain));
  });

  it('the warm-up options run a few examples, one PGD ε and a few steps, with nothing else to attack', () => {
    const warm = warmUpAttackOptions({ ...options, headlineEps: 0.06, certify: { sigma: 0.25 } as never, textAttack: { budgets: [1] } as never });
    expect(warm).toMatchObject({ examples: 16, adversarialExamples: 16, pgd: [0.05], pgdL2: false, pgdSteps: 4, seed: 8 });
    expect(warm.headlineEps).toBeUndefined();
    expect(warm.certify).toBeUndefined();
    expect(warm.textAttack).toBeUndefined();
    expect(warmUpAttackOptions({}).pgd).toEqual([0.1]);
  });
});

describe('TfGlobalModel robustnessHelper (a second evaluation worker)', () => {
  let withHelper: TfGlobalModel;
  let without: TfGlobalModel;
  beforeAll(async () => {
    withHelper = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, tempDir(), 'mlp', {}, [], { evaluation: 'worker', robustnessHelper: true });
    without = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, tempDir(), 'mlp', {}, [], { evaluation: 'worker', robustnessHelper: false });
    expect(await withHelper.evaluatesInWorker()).toBe(true);
    expect(await without.evaluatesInWorker()).toBe(true);
  }, 120_000);
  afterAll(() => {
    withHelper?.dispose();
    without?.dispose();
  });

  it('true: the helper starts when asked, computes some of the rows, and the report is the single thread’s', async () => {
    expect(withHelper.robustnessHelperThread).toBeUndefined();
    withHelper.prepareRobustnessHelper(options);
    const helper = withHelper.robustnessHelperThread!;
    expect(helper).toBeDefined();
    expect(await helper.ready).toBe(true);
    // Asked again: the same helper.
    withHelper.prepareRobustnessHelper(options);
    expect(withHelper.robustnessHelperThread).toBe(helper);
    const report = await withHelper.evaluateRobustness(withHelper.initialWeights, options);
    expect(withoutTimes(report)).toEqual(withoutTimes(plain));
    expect(withHelper.lastRobustnessHelperRows).toBeGreaterThan(0);
    expect(withHelper.lastRobustnessHelperRows).toBeLessThanOrEqual(ROWS);
    // No tensor left behind on either worker.
    const [a, b] = [await withHelper.evaluationThread!.tensors(), await helper.tensors()];
    await withHelper.evaluateRobustness(withHelper.initialWeights, options);
    expect([await withHelper.evaluationThread!.tensors(), await helper.tensors()]).toEqual([a, b]);
  }, 120_000);

  it('false: no helper is started and the evaluation runs whole on the first worker', async () => {
    without.prepareRobustnessHelper(options);
    expect(without.robustnessHelperThread).toBeUndefined();
    const report = await without.evaluateRobustness(without.initialWeights, options);
    expect(withoutTimes(report)).toEqual(withoutTimes(plain));
    expect(without.lastRobustnessHelperRows).toBe(0);
  }, 120_000);
});

describe('the robustness helper by default', () => {
  it.each([
    [2, 'file:///x/coordinator/dist/model/tf-global-model.js', true],
    [32, 'file:///x/coordinator/dist/model/tf-global-model.js', true],
    [1, 'file:///x/coordinator/dist/model/tf-global-model.js', false],
    [2, 'file:///x/coordinator/src/model/tf-global-model.ts', false],
  ])('%d cores, %s → %s', (cores, url, expected) => {
    expect(defaultRobustnessHelper(cores, url)).toBe(expected);
  });
});

describe('prepareRobustnessHelper: the round a helper is asked for', () => {
  const asked = (when: 'final' | 'every-round' | 'never' | number, rounds: number, robustness: Partial<RobustnessOptions> = {}) => {
    const calls: number[] = [];
    const model = { evaluateRobustness: async () => ({}), prepareRobustnessHelper: () => calls.push(0) } as unknown as GlobalModel;
    const rounds_: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const before = calls.length;
      prepareRobustnessHelper(model, { when, ...robustness } as never, round, rounds);
      if (calls.length > before) rounds_.push(round);
    }
    return rounds_;
  };

  it.each([
    ['final', 10, [10]],
    ['final', 1, [1]],
    ['every-round', 3, [1, 2, 3]],
    ['never', 5, []],
    [4, 10, [4, 8, 10]],
  ] as const)('when %s over %d rounds: asked at rounds %j (those that evaluate, at their start)', (when, rounds, expected) => {
    expect(asked(when, rounds)).toEqual(expected);
  });

  it('a model without the hook or without robustness evaluation is not asked', () => {
    expect(prepareRobustnessHelper({ evaluateRobustness: async () => ({}) } as unknown as GlobalModel, { when: 'final' } as never, 1, 1)).toBe(false);
    expect(prepareRobustnessHelper({ prepareRobustnessHelper: () => undefined } as unknown as GlobalModel, { when: 'final' } as never, 1, 1)).toBe(false);
  });
});
