import { describe, expect, it } from 'vitest';
import { foldIndices, stratifiedFolds } from '@fedtune/shared';

/** Labels with uneven class sizes: 0 ×23, 1 ×7, 2 ×1, 3 ×12, 4 ×0, 5 ×5 (shuffled order). */
function labels(seed: number): Int32Array {
  const ys = [...Array(23).fill(0), ...Array(7).fill(1), 2, ...Array(12).fill(3), ...Array(5).fill(5)];
  let s = seed;
  for (let i = ys.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [ys[i], ys[j]] = [ys[j], ys[i]];
  }
  return Int32Array.from(ys);
}

const counts = (folds: Int32Array, ys: Int32Array, k: number, label: number) => Array.from({ length: k }, (_, f) => ys.filter((y, i) => y === label && folds[i] === f).length);

describe('stratifiedFolds: the k-fold split is stratified per class', () => {
  it.each([2, 3, 5, 7, 10])('k = %i: every class is spread over the folds within 1 example, the folds within 1 of each other', (k) => {
    const ys = labels(k);
    const folds = stratifiedFolds(ys, k, 42);
    expect(folds).toHaveLength(ys.length);
    for (const f of folds) expect(f >= 0 && f < k).toBe(true);
    for (const label of [0, 1, 2, 3, 5]) {
      const c = counts(folds, ys, k, label);
      expect(Math.max(...c) - Math.min(...c), `class ${label}: ${c}`).toBeLessThanOrEqual(1);
      expect(c.reduce((a, b) => a + b, 0)).toBe(ys.filter((y) => y === label).length);
    }
    const sizes = Array.from({ length: k }, (_, f) => folds.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes), `${sizes}`).toBeLessThanOrEqual(1);
  });

  it('each class share of a fold is the class share of the data within 1 example', () => {
    const ys = labels(3);
    const k = 5;
    const folds = stratifiedFolds(ys, k, 9);
    for (let f = 0; f < k; f++) {
      const held = foldIndices(folds, f, true);
      for (const label of [0, 1, 3, 5]) {
        const expected = (ys.filter((y) => y === label).length * held.length) / ys.length;
        expect(Math.abs(held.filter((i) => ys[i] === label).length - expected), `fold ${f} class ${label}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('k-fold holds every example out exactly once, and trains on it in every other fold', () => {
    const ys = labels(11);
    const k = 4;
    const folds = stratifiedFolds(ys, k, 1);
    const heldOut = new Array<number>(ys.length).fill(0);
    const trainedOn = new Array<number>(ys.length).fill(0);
    for (let f = 0; f < k; f++) {
      const held = foldIndices(folds, f, true);
      const rest = foldIndices(folds, f, false);
      expect(held.length + rest.length).toBe(ys.length);
      expect(held.filter((i) => rest.includes(i))).toEqual([]);
      for (const i of held) heldOut[i]++;
      for (const i of rest) trainedOn[i]++;
    }
    expect(heldOut).toEqual(new Array(ys.length).fill(1));
    expect(trainedOn).toEqual(new Array(ys.length).fill(k - 1));
  });

  it('foldIndices lists indices in increasing order', () => {
    const folds = Int32Array.from([1, 0, 1, 2, 0, 1]);
    expect(foldIndices(folds, 1, true)).toEqual([0, 2, 5]);
    expect(foldIndices(folds, 1, false)).toEqual([1, 3, 4]);
    expect(foldIndices(folds, 3, true)).toEqual([]);
  });

  it('deals round-robin from one class to the next: exact folds of a small example', () => {
    // Classes 0 (3 examples) then 1 (2): five deals over 2 folds → class 0 gets folds 0,1,0 and class 1 gets 1,0.
    const ys = Int32Array.from([1, 0, 0, 1, 0]);
    const folds = stratifiedFolds(ys, 2, 5);
    expect(counts(folds, ys, 2, 0)).toEqual([2, 1]);
    expect(counts(folds, ys, 2, 1)).toEqual([1, 1]);
    // Classes are dealt in label order, not in order of appearance: with 3 folds, class 0 takes folds 0 and 1, so class 1 gets 2 and 0.
    const late = Int32Array.from([1, 0, 1, 0]);
    expect(counts(stratifiedFolds(late, 3, 5), late, 3, 1)).toEqual([1, 0, 1]);
    expect(counts(stratifiedFolds(late, 3, 5), late, 3, 0)).toEqual([1, 1, 0]);
    // k = n: one example per fold.
    expect([...stratifiedFolds(ys, 5, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('is seeded: the same seed gives the same folds, another seed other folds', () => {
    const ys = labels(5);
    expect(stratifiedFolds(ys, 5, 7)).toEqual(stratifiedFolds(ys, 5, 7));
    expect(stratifiedFolds(ys, 5, 7)).not.toEqual(stratifiedFolds(ys, 5, 8));
  });

  it.each([
    ['one fold', 1, 'config', /at least 2 folds \(got 1\)/],
    ['zero folds', 0, 'config', /at least 2 folds/],
    ['a fractional k', 2.5, 'config', /at least 2 folds \(got 2.5\)/],
    ['more folds than examples', 6, 'data', /6-fold cross-validation needs at least 6 examples \(the site has 5\)/],
  ] as const)('%s is a typed error', (_name, k, code, message) => {
    expect(() => stratifiedFolds(Int32Array.from([0, 1, 0, 1, 0]), k, 1)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });

  it('k equal to the number of examples is allowed', () => {
    expect(() => stratifiedFolds(Int32Array.from([0, 1]), 2, 1)).not.toThrow();
  });
});
