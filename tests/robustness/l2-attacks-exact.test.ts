import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attackRows, expectRows as expectRowsClose, LINEAR_W, linearAttackModel } from '../helpers/linear-attack-model.ts';
import type { AttackParams } from '../../shared/src/robustness/attacks/attack.ts';
import { fgmL2 } from '../../shared/src/robustness/attacks/fgm-l2.ts';
import { exampleNorms, normalizeL2, projectL2 } from '../../shared/src/robustness/attacks/l2-ball.ts';
import { pgdL2 } from '../../shared/src/robustness/attacks/pgd-l2.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';

// The L2 attacks computed by hand (the fast, exact tests `npm run mutation -- l2-attacks` runs). A linear
// two-class model, logits = x·W + b: the gradient of the cross-entropy with respect to x is p₁·d for true
// class 0 and −p₀·d for class 1, with d = W₁ − W₀ = [1, −1, 2, −3]. Its L2 direction (±d/‖d‖, or ±(d⊙s)/‖d⊙s‖
// in per-feature units s) is known in closed form and does not depend on x.
const W = LINEAR_W;
const D = [1, -1, 2, -3];
const X = [
  [0.5, 0.4, 0.6, 0.5],
  [0.5, 0.5, 0.03, 0.99],
  [0.2, 0.7, 0.3, 0.1],
];
const LABELS = [0, 1, 0];
const sign = (row: number) => (LABELS[row] === 0 ? 1 : -1);

const fixture = linearAttackModel(X, LABELS);
let model: tf.LayersModel;
let x: tf.Tensor;
let onehot: tf.Tensor;
beforeAll(() => ({ model, x, onehot } = fixture));

/** AttackParams (attack.ts); every attack here reads the same fields. */
type Params = AttackParams;
const params: Params = { eps: 0.3, steps: 1, stepSize: 0.05, seed: 7, clipMin: 0, clipMax: 1 };

const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
const clip = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
const unit = (v: number[]) => {
  const n = norm(v);
  return v.map((c) => c / Math.max(n, 1e-12));
};
const project = (v: number[], eps: number) => v.map((c) => c * Math.min(1, eps / Math.max(norm(v), 1e-12)));
/** The gradient's direction in ε's units for row i (scale s: d⊙s). */
const direction = (i: number, s: number[]) => unit(D.map((c, j) => sign(i) * c * s[j]));

/** FGM-L2 by hand: x + ε·s⊙unit(∇⊙s), clipped. */
function fgmByHand(p: Params): number[][] {
  const s = p.scale ? Array.from(p.scale) : [1, 1, 1, 1];
  return X.map((row, i) => {
    const u = direction(i, s).map((c) => c * p.eps);
    return row.map((v, j) => clip(v + u[j] * s[j], p.clipMin, p.clipMax));
  });
}

/** PGD-L2 by hand: the seeded start (a normal direction per example at a uniform radius), then projected normalised steps. */
function pgdByHand(p: Params): number[][] {
  const s = p.scale ? Array.from(p.scale) : [1, 1, 1, 1];
  const rng = new SeededRandom(p.seed);
  const dirs = X.map((row) => row.map(() => rng.normal()));
  const radii = X.map(() => rng.uniform(0, p.eps));
  return X.map((row, i) => {
    const place = (u: number[]) => row.map((v, j) => clip(v + u[j] * s[j], p.clipMin, p.clipMax));
    const back = (a: number[]) => a.map((v, j) => (s[j] === 0 ? 0 : (v - row[j]) / s[j]));
    let adv = place(unit(dirs[i]).map((c) => c * radii[i]));
    // The first step starts from what the start actually moved (after clipping; 0 on a feature of scale 0).
    let u = back(adv);
    for (let k = 0; k < p.steps; k++) {
      const g = direction(i, s);
      adv = place(project(u.map((c, j) => c + p.stepSize * g[j]), p.eps));
      u = back(adv);
    }
    return adv;
  });
}

const attack = attackRows;
const expectRows = (actual: number[][], expected: number[][]) => expectRowsClose(actual, expected, 5);

const l2 = (a: number[], b: number[]) => norm(a.map((v, j) => v - b[j]));

describe('L2 ball helpers', () => {
  const t = () => tf.tensor2d([
    [3, 4],
    [0, 0],
    [0.3, 0.4],
  ]);

  it('exampleNorms is each example\'s L2 norm, shaped to broadcast over the example', () => {
    const before = tf.memory().numTensors;
    const n = tf.tidy(() => exampleNorms(t()).arraySync());
    expect(n).toEqual([[5], [0], [expect.closeTo(0.5, 6)]]);
    const img = tf.tidy(() => exampleNorms(tf.ones([2, 2, 2])));
    expect(img.shape).toEqual([2, 1, 1]);
    expect(Array.from(img.dataSync())).toEqual([2, 2]);
    img.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('normalizeL2 scales each example to unit norm and leaves a zero example at zero', () => {
    const out = tf.tidy(() => normalizeL2(t()).arraySync()) as number[][];
    expectRows(out, [
      [0.6, 0.8],
      [0, 0],
      [0.6, 0.8],
    ]);
  });

  it('projectL2 shortens only the examples longer than ε (to exactly ε) and keeps a zero example', () => {
    const out = tf.tidy(() => projectL2(t(), 1).arraySync()) as number[][];
    expectRows(out, [
      [0.6, 0.8],
      [0, 0],
      [0.3, 0.4],
    ]);
    const exact = tf.tidy(() => projectL2(tf.tensor2d([[0.6, 0.8]]), 1).arraySync()) as number[][];
    expectRows(exact, [[0.6, 0.8]]);
  });
});

describe('FGM-L2', () => {
  it('names and cites itself as an L2 attack', () => {
    expect([fgmL2.name, fgmL2.norm]).toEqual(['fgm-l2', 'l2']);
    expect(fgmL2.reference).toMatch(/Goodfellow/);
  });

  it('is x + ε·∇/‖∇‖₂, clipped to the range it is given', () => {
    expectRows(attack(() => fgmL2.run(model, x, onehot, params)), fgmByHand(params));
    const wide = { ...params, clipMin: -5, clipMax: 5 };
    const free = attack(() => fgmL2.run(model, x, onehot, wide));
    expectRows(free, fgmByHand(wide));
    free.forEach((row, i) => expect(l2(row, X[i])).toBeCloseTo(0.3, 5));
    const narrow = { ...params, clipMin: 0.25, clipMax: 0.75 };
    expectRows(attack(() => fgmL2.run(model, x, onehot, narrow)), fgmByHand(narrow));
  });

  it('in per-feature units: the step is taken in units of scale (a feature of scale 0 never moves)', () => {
    const p = { ...params, clipMin: -5, clipMax: 5, scale: Float32Array.from([2, 0, 0.5, 1]) };
    const out = attack(() => fgmL2.run(model, x, onehot, p));
    expectRows(out, fgmByHand(p));
    out.forEach((row, i) => expect(row[1]).toBeCloseTo(X[i][1], 6));
  });

  it('ε = 0 returns the inputs untouched (not even clipped), as a new tensor', () => {
    const outside = tf.tensor2d([[1.5, -0.5, 0.5, 0.5]]);
    const label = tf.oneHot(tf.tensor1d([0], 'int32'), 2);
    expect(attack(() => fgmL2.run(model, outside, label, { ...params, eps: 0 }))).toEqual([[1.5, -0.5, 0.5, 0.5]]);
    tf.dispose([outside, label]);
  });
});

describe('PGD-L2', () => {
  it('names and cites itself as an L2 attack', () => {
    expect([pgdL2.name, pgdL2.norm]).toEqual(['pgd-l2', 'l2']);
    expect(pgdL2.reference).toMatch(/Madry/);
  });

  it('steps = 0 is the seeded start: a normal direction at a uniform radius in the ball, clipped', () => {
    const wide = { ...params, steps: 0, clipMin: -5, clipMax: 5 };
    const start = attack(() => pgdL2.run(model, x, onehot, wide));
    expectRows(start, pgdByHand(wide));
    start.forEach((row, i) => {
      expect(l2(row, X[i])).toBeLessThan(0.3);
      expect(l2(row, X[i])).toBeGreaterThan(0);
    });
    expectRows(attack(() => pgdL2.run(model, x, onehot, { ...params, steps: 0 })), pgdByHand({ ...params, steps: 0 }));
  });

  it.each([1, 2, 3, 5])('%i step(s) of stepSize along ∇/‖∇‖₂, each projected onto the ball and the range', (steps) => {
    expectRows(attack(() => pgdL2.run(model, x, onehot, { ...params, steps })), pgdByHand({ ...params, steps }));
    const wide = { ...params, steps, clipMin: -5, clipMax: 5 };
    expectRows(attack(() => pgdL2.run(model, x, onehot, wide)), pgdByHand(wide));
  });

  it('large steps end on the ball\'s surface along the gradient (FGM-L2\'s answer) where nothing clips', () => {
    const wide = { ...params, steps: 4, stepSize: 2, clipMin: -5, clipMax: 5 };
    const out = attack(() => pgdL2.run(model, x, onehot, wide));
    expectRows(out, pgdByHand(wide));
    out.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(fgmByHand(wide)[i][j], 3)));
    out.forEach((row, i) => expect(l2(row, X[i])).toBeCloseTo(0.3, 5));
  });

  it('the start depends on the seed and only on it', () => {
    const p = { ...params, steps: 0 };
    const a = attack(() => pgdL2.run(model, x, onehot, { ...p, seed: 1 }));
    expect(attack(() => pgdL2.run(model, x, onehot, { ...p, seed: 1 }))).toEqual(a);
    const c = attack(() => pgdL2.run(model, x, onehot, { ...p, seed: 2 }));
    expect(c).not.toEqual(a);
    expectRows(c, pgdByHand({ ...p, seed: 2 }));
  });

  it.each([0, 1, 3])('in per-feature units (%i steps): steps and ball in units of scale, a feature of scale 0 never moves', (steps) => {
    const p = { ...params, steps, clipMin: -5, clipMax: 5, scale: Float32Array.from([2, 0, 0.5, 1]) };
    const out = attack(() => pgdL2.run(model, x, onehot, p));
    expectRows(out, pgdByHand(p));
    out.forEach((row, i) => expect(row[1]).toBeCloseTo(X[i][1], 6));
    const clipped = { ...p, clipMin: 0, clipMax: 1 };
    expectRows(attack(() => pgdL2.run(model, x, onehot, clipped)), pgdByHand(clipped));
  });

  it('the first step starts from what the random start moved: clipped, and 0 on a feature of scale 0', () => {
    // A long step hits the ball's surface: whatever the start spent on a feature of scale 0 (or lost to
    // clipping) would shorten the step along the others.
    const p = { ...params, eps: 0.3, steps: 1, stepSize: 0.5, seed: 3, clipMin: -5, clipMax: 5, scale: Float32Array.from([1, 0, 1, 1]) };
    const out = attack(() => pgdL2.run(model, x, onehot, p));
    expectRows(out, pgdByHand(p));
    out.forEach((row, i) => expect(l2(row, X[i])).toBeCloseTo(0.3, 5));
    const clipped = { ...params, eps: 0.3, steps: 1, stepSize: 0.5, seed: 3, clipMin: 0.45, clipMax: 0.55 };
    expectRows(attack(() => pgdL2.run(model, x, onehot, clipped)), pgdByHand(clipped));
  });

  it('ε = 0 returns the inputs untouched (not even clipped), as a new tensor', () => {
    const outside = tf.tensor2d([[1.5, -0.5, 0.5, 0.5]]);
    const label = tf.oneHot(tf.tensor1d([0], 'int32'), 2);
    expect(attack(() => pgdL2.run(model, outside, label, { ...params, eps: 0, steps: 3 }))).toEqual([[1.5, -0.5, 0.5, 0.5]]);
    tf.dispose([outside, label]);
  });

  it('works on image-shaped inputs (the start\'s radius broadcasts over every axis of an example)', () => {
    const img = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] }), tf.layers.dense({ units: 2 })] });
    img.setWeights([tf.tensor2d(W), tf.tensor1d([0.3, -0.2])]);
    const xi = tf.reshape(x, [3, 2, 2]);
    const wide = { ...params, steps: 2, clipMin: -5, clipMax: 5 };
    const out = tf.tidy(() => tf.reshape(pgdL2.run(img, xi, onehot, wide), [3, 4]).arraySync()) as number[][];
    expectRows(out, pgdByHand(wide));
    const f = tf.tidy(() => tf.reshape(fgmL2.run(img, xi, onehot, wide), [3, 4]).arraySync()) as number[][];
    expectRows(f, fgmByHand(wide));
    xi.dispose();
    img.dispose();
  });
});
