import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdversarialPlan } from '../../shared/src/learning/adversarial-plan.ts';
import { adversarialBatch, type StepContext } from '../../shared/src/learning/robust-step.ts';
import { AdversarialTraining } from '../../shared/src/messages/schemas.ts';
import type { Attack, AttackParams } from '../../shared/src/robustness/attacks/attack.ts';
import { selectNodeBackend } from '../../shared/src/node/select-backend.ts';

// `adversarial.attackLoss`: which loss the training attack climbs, on which examples of the batch. The attack
// is a recorder (it returns x + 10 + the call's index), so every example's source is visible in the output.

beforeAll(async () => {
  await selectNodeBackend();
});

function recorder(): { attack: Attack; calls: Array<{ rows: number[]; labels: number[][]; params: AttackParams }> } {
  const calls: Array<{ rows: number[]; labels: number[][]; params: AttackParams }> = [];
  const attack: Attack = {
    name: 'pgd',
    reference: 'test',
    run(_m, input, onehot, params) {
      calls.push({ rows: (input.arraySync() as number[][]).map((r) => r[0]), labels: onehot.arraySync() as number[][], params });
      return tf.add(input, 10 * calls.length);
    },
  };
  return { attack, calls };
}

function batchWith(attackLoss: AdversarialPlan['attackLoss'], share: number, n: number, change: Partial<AdversarialPlan> | 'none' = {}) {
  const { attack, calls } = recorder();
  const plan: AdversarialPlan = { method: 'pgd', share, attack, eps: 0.1, steps: 3, stepSize: 0.05, beta: 6, unitScale: 1, awp: 0, attackLoss, ...(change === 'none' ? {} : change) };
  const ctx = { model: undefined as never, optimizer: undefined as never, config: undefined as never, vars: [], clipMin: 0, clipMax: 1, adversarial: change === 'none' ? undefined : plan } as StepContext;
  const x = tf.tensor2d(Array.from({ length: n }, (_, i) => [i, 0]));
  const onehot = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 2), 'int32'), 2);
  const before = tf.memory().numTensors;
  const out = adversarialBatch(ctx, x, onehot, 7);
  const rows = (out.arraySync() as number[][]).map((r) => r[0]);
  out.dispose();
  const leaked = tf.memory().numTensors - before;
  tf.dispose([x, onehot]);
  return { calls, rows, leaked };
}

describe('adversarialBatch by attack loss', () => {
  it("'ce' (the default): one call on the first ⌈share·n⌉ examples, no loss in its parameters (as before the field)", () => {
    const { calls, rows, leaked } = batchWith('ce', 0.5, 5);
    expect(calls.map((c) => c.rows)).toEqual([[0, 1, 2]]);
    expect(calls[0].params).toStrictEqual({ eps: 0.1, steps: 3, stepSize: 0.05, seed: 7, clipMin: 0, clipMax: 1 });
    expect(rows).toEqual([10, 11, 12, 3, 4]);
    expect(leaked).toBe(0);
  });

  it("'margin': the same examples, by the margin loss", () => {
    const { calls, rows, leaked } = batchWith('margin', 1, 4);
    expect(calls.map((c) => [c.rows, c.params.loss])).toEqual([[[0, 1, 2, 3], 'margin']]);
    expect(calls[0].labels).toEqual([[1, 0], [0, 1], [1, 0], [0, 1]]);
    expect(rows).toEqual([10, 11, 12, 13]);
    expect(leaked).toBe(0);
  });

  it.each([
    // n, share: the adversarial k = ⌈share·n⌉, ⌈k/2⌉ by cross-entropy, the rest by the margin, the clean tail kept
    [6, 1, [[0, 1, 2], [3, 4, 5]], [10, 11, 12, 23, 24, 25]],
    [5, 1, [[0, 1, 2], [3, 4]], [10, 11, 12, 23, 24]],
    [6, 0.5, [[0, 1], [2]], [10, 11, 22, 3, 4, 5]],
    [4, 0.25, [[0]], [10, 1, 2, 3]],
  ])("'mixed', %i examples at share %f: cross-entropy first, then the margin", (n, share, parts, want) => {
    const { calls, rows, leaked } = batchWith('mixed', share, n);
    expect(calls.map((c) => c.rows)).toEqual(parts);
    expect(calls.map((c) => c.params.loss)).toEqual(['ce', 'margin'].slice(0, parts.length).map((l) => (l === 'ce' ? undefined : l)));
    expect(calls.every((c) => c.params.seed === 7 && c.params.eps === 0.1)).toBe(true);
    expect(rows).toEqual(want);
    expect(leaked).toBe(0);
  });
});

describe('adversarialBatch: what it leaves clean', () => {
  it.each<[string, Partial<AdversarialPlan> | 'none']>([
    ['no plan', 'none'],
    ['TRADES (its partners are made apart)', { method: 'trades' }],
    ['embedding perturbations (made on the embedding output)', { space: 'embedding' }],
  ])('%s: the batch as it is, no attack', (_, change) => {
    const { calls, rows, leaked } = batchWith('margin', 1, 3, change);
    expect(calls).toEqual([]);
    expect(rows).toEqual([0, 1, 2]);
    expect(leaked).toBe(0);
  });

  it("passes the plan's per-feature scale on to every part", () => {
    const scale = Float32Array.from([0.5, 2]);
    const { calls } = batchWith('mixed', 1, 4, { scale });
    expect(calls.map((c) => c.params.scale)).toEqual([scale, scale]);
  });

  it("'mixed': each part gets its own examples' labels", () => {
    const { calls } = batchWith('mixed', 1, 5);
    expect(calls.map((c) => c.labels)).toEqual([
      [[1, 0], [0, 1], [1, 0]],
      [[0, 1], [1, 0]],
    ]);
  });
});

describe('AdversarialTraining.attackLoss', () => {
  it('accepts ce, margin and mixed for FGSM and PGD', () => {
    for (const attackLoss of ['ce', 'margin', 'mixed']) for (const method of ['fgsm', 'pgd']) expect(AdversarialTraining.safeParse({ method, eps: 0.1, attackLoss }).success).toBe(true);
  });
  it.each([
    ['TRADES', { method: 'trades', eps: 0.1, attackLoss: 'margin' }],
    ['embedding perturbations', { method: 'pgd', eps: 0.1, norm: 'l2', space: 'embedding', attackLoss: 'margin' }],
    ['an unknown loss', { method: 'pgd', eps: 0.1, attackLoss: 'hinge' }],
  ])('refuses it with %s', (_, adversarial) => {
    expect(AdversarialTraining.safeParse(adversarial).success).toBe(false);
  });
});
