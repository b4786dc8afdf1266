import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attackRows, expectRows as expectRowsClose, LINEAR_W, linearAttackModel } from '../helpers/linear-attack-model.ts';
import { fgsm } from '../../shared/src/robustness/attacks/fgsm.ts';
import { pgd } from '../../shared/src/robustness/attacks/pgd.ts';
import { ATTACKS, getAttack } from '../../shared/src/robustness/attacks/registry.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';

// A linear two-class model, logits = x·W + b. The gradient of the softmax cross-entropy with respect to x
// is then p₁·(W₁ − W₀) for true class 0 and p₀·(W₀ − W₁) for true class 1: its sign is known in closed form
// and does not depend on x, so every attack output below is computed exactly by hand.
const W = LINEAR_W;
const SIGN_CLASS0 = [1, -1, 1, -1];
const X = [
  [0.5, 0.02, 0.97, 0.5],
  [0.5, 0.5, 0.03, 0.99],
];
const LABELS = [0, 1];
const signOf = (row: number) => SIGN_CLASS0.map((s) => (LABELS[row] === 0 ? s : -s));

const fixture = linearAttackModel(X, LABELS);
let model: tf.LayersModel;
let x: tf.Tensor;
let onehot: tf.Tensor;
beforeAll(() => ({ model, x, onehot } = fixture));

const params = { eps: 0.05, steps: 1, stepSize: 0.01, seed: 7, clipMin: 0, clipMax: 1 };
const f32 = Math.fround;
const clip = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

const attack = attackRows;
const expectRows = (actual: number[][], expected: number[][]) => expectRowsClose(actual, expected, 6);

/** PGD by hand: the seeded uniform start in the ε-ball, then `steps` signed steps projected on the ball ∩ range. */
function pgdByHand(rows: number[][], p: typeof params): number[][] {
  const rng = new SeededRandom(p.seed);
  const start = rows.map((row) => row.map(() => f32(rng.uniform(-p.eps, p.eps))));
  return rows.map((row, i) =>
    row.map((xi, j) => {
      const lo = Math.max(f32(xi - p.eps), p.clipMin);
      const hi = Math.min(f32(xi + p.eps), p.clipMax);
      let a = clip(f32(xi + start[i][j]), p.clipMin, p.clipMax);
      for (let s = 0; s < p.steps; s++) a = Math.min(Math.max(f32(a + signOf(i)[j] * p.stepSize), lo), hi);
      return a;
    }),
  );
}

describe('FGSM', () => {
  it('is x + ε·sign(∇ₓ loss), clipped to the valid range', () => {
    const out = attack(() => fgsm.run(model, x, onehot, params));
    expectRows(out, [
      [0.55, 0, 1, 0.45],
      [0.45, 0.55, 0, 1],
    ]);
  });

  it('clips to the range it is given, not to [0, 1]', () => {
    const out = attack(() => fgsm.run(model, x, onehot, { ...params, eps: 0.1, clipMin: 0.1, clipMax: 0.9 }));
    expectRows(out, [
      [0.6, 0.1, 0.9, 0.4],
      [0.4, 0.6, 0.1, 0.9],
    ]);
    const wide = attack(() => fgsm.run(model, x, onehot, { ...params, clipMin: -1, clipMax: 2 }));
    expectRows(wide, X.map((row, i) => row.map((v, j) => v + 0.05 * signOf(i)[j])));
  });

  it('ε = 0 returns the inputs untouched (not even clipped), as a new tensor', () => {
    const outside = tf.tensor2d([[1.5, -0.5, 0.5, 0.5]]);
    const label = tf.oneHot(tf.tensor1d([0], 'int32'), 2);
    const out = attack(() => fgsm.run(model, outside, label, { ...params, eps: 0 }));
    expect(out).toEqual([[1.5, -0.5, 0.5, 0.5]]);
    tf.dispose([outside, label]);
  });
});

describe('PGD', () => {
  it('steps = 0 is the seeded uniform start in the ε-ball, clipped to the range', () => {
    const out = attack(() => pgd.run(model, x, onehot, { ...params, steps: 0 }));
    expectRows(out, pgdByHand(X, { ...params, steps: 0 }));
    // The start is random: it moved every coordinate (none is at the clip bounds here but X[0][1] and X[1][3]).
    expect(out[0][0]).not.toBeCloseTo(X[0][0], 6);
  });

  it('each step adds stepSize·sign(∇) and projects onto the ε-ball around x and the valid range', () => {
    for (const steps of [1, 2, 3]) {
      expectRows(attack(() => pgd.run(model, x, onehot, { ...params, steps })), pgdByHand(X, { ...params, steps }));
    }
  });

  it('many large steps end on the corner of the ε-ball the gradient points to (FGSM’s answer)', () => {
    const out = attack(() => pgd.run(model, x, onehot, { ...params, steps: 10, stepSize: 0.02 }));
    expectRows(out, [
      [0.55, 0, 1, 0.45],
      [0.45, 0.55, 0, 1],
    ]);
    const narrow = attack(() => pgd.run(model, x, onehot, { ...params, eps: 0.1, steps: 10, stepSize: 0.05, clipMin: 0.1, clipMax: 0.9 }));
    expectRows(narrow, [
      [0.6, 0.1, 0.9, 0.4],
      [0.4, 0.6, 0.1, 0.9],
    ]);
  });

  it('the start depends on the seed and only on it', () => {
    const a = attack(() => pgd.run(model, x, onehot, { ...params, steps: 0, seed: 1 }));
    const b = attack(() => pgd.run(model, x, onehot, { ...params, steps: 0, seed: 1 }));
    const c = attack(() => pgd.run(model, x, onehot, { ...params, steps: 0, seed: 2 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expectRows(c, pgdByHand(X, { ...params, steps: 0, seed: 2 }));
  });

  it('stays within ε of x and within the range, whatever the step size', () => {
    const out = attack(() => pgd.run(model, x, onehot, { ...params, eps: 0.2, steps: 4, stepSize: 0.5 }));
    out.forEach((row, i) =>
      row.forEach((v, j) => {
        expect(v).toBeGreaterThanOrEqual(Math.max(X[i][j] - 0.2, 0) - 1e-6);
        expect(v).toBeLessThanOrEqual(Math.min(X[i][j] + 0.2, 1) + 1e-6);
      }),
    );
    expectRows(out, pgdByHand(X, { ...params, eps: 0.2, steps: 4, stepSize: 0.5 }));
  });

  it('ε = 0 returns the inputs untouched (not even clipped), as a new tensor', () => {
    const outside = tf.tensor2d([[1.5, -0.5, 0.5, 0.5]]);
    const label = tf.oneHot(tf.tensor1d([0], 'int32'), 2);
    const out = attack(() => pgd.run(model, outside, label, { ...params, eps: 0, steps: 3 }));
    expect(out).toEqual([[1.5, -0.5, 0.5, 0.5]]);
    tf.dispose([outside, label]);
  });
});

describe('attack registry', () => {
  it('names and cites each attack, and refuses an unknown one with a config error', () => {
    expect(ATTACKS.map((a) => a.name)).toEqual(['fgsm', 'pgd', 'fgm-l2', 'pgd-l2']);
    expect(getAttack('pgd')).toBe(pgd);
    expect(fgsm.reference).toMatch(/Goodfellow/);
    expect(pgd.reference).toMatch(/Madry/);
    expect(() => getAttack('cw')).toThrow(expect.objectContaining({ code: 'config', message: 'unknown attack "cw" (known: fgsm, pgd, fgm-l2, pgd-l2)' }));
  });
});
