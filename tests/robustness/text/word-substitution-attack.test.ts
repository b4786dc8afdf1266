import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deriveSeed,
  SeededRandom,
  evaluateRobustness,
  evaluateTextAttack,
  subset,
  fitLocal,
  nearestNeighbourCandidates,
  RobustnessReportSchema,
  TextAttackRowSchema,
  wordSubstitutionAttack,
  type CandidateTable,
  type Dataset,
} from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { FILLERS, KEYWORDS, SEQ_LEN, syntheticTextData, syntheticTextModel, VOCAB } from './synthetic-text-task.ts';

let model: tf.Sequential;
let test: Dataset;
let candidates: CandidateTable;
let ids: Int32Array;

beforeAll(async () => {
  await selectNodeBackend();
  model = syntheticTextModel(1);
  // Candidates from the untrained ("pretrained") embedding, as a real run takes them from the pretrained model.
  candidates = nearestNeighbourCandidates(model.layers[0].getWeights()[0] as tf.Tensor2D, 6, 1);
  await fitLocal(model, syntheticTextData(400, 1), { epochs: 8, batchSize: 32, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 3 });
  test = syntheticTextData(120, 2);
  ids = Int32Array.from(test.x);
}, 60_000);

/** Embedding(v, d) → Flatten → Dense(c) with the given weights: logits = Σ_p E[x_p]·W_p + b. */
function linearTextModel(E: number[][], W: number[][], b: number[], seqLen: number): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: E.length, outputDim: E[0].length, inputLength: seqLen }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: b.length }));
  m.layers[0].setWeights([tf.tensor2d(E)]);
  m.layers[2].setWeights([tf.tensor2d(W), tf.tensor1d(b)]);
  return m;
}

/** The same greedy attack in plain JS on the linear model (the exact gradient: W_p·(softmax − y)). */
function referenceGreedy(E: number[][], W: number[][], b: number[], x: number[], label: number, table: CandidateTable, budget: number, protectedIds: number[]) {
  const d = E[0].length;
  const c = b.length;
  const cur = [...x];
  const changed = x.map(() => false);
  const logits = () => b.map((bj, j) => bj + cur.reduce((s, w, p) => s + E[w].reduce((t, e, q) => t + e * W[p * d + q][j], 0), 0));
  const swaps: [number, number][] = [];
  for (;;) {
    const z = logits();
    const pred = z.indexOf(Math.max(...z));
    if (pred !== label || swaps.length >= budget) return { cur, swaps, flipped: pred !== label };
    const max = Math.max(...z);
    const ez = z.map((v) => Math.exp(v - max));
    const sum = ez.reduce((a, v) => a + v, 0);
    const r = ez.map((v, j) => v / sum - (j === label ? 1 : 0));
    let best = -Infinity;
    let swap: [number, number] | undefined;
    cur.forEach((w, p) => {
      if (changed[p] || protectedIds.includes(w)) return;
      const g = Array.from({ length: d }, (_, q) => r.reduce((s, rj, j) => s + W[p * d + q][j] * rj, 0));
      for (let j = 0; j < table.k; j++) {
        const cand = table.neighbours[w * table.k + j];
        if (cand < 0 || protectedIds.includes(cand)) continue;
        const s = E[cand].reduce((t, e, q) => t + (e - E[w][q]) * g[q], 0);
        if (s > best) {
          best = s;
          swap = [p, cand];
        }
      }
    });
    if (!swap) return { cur, swaps, flipped: false };
    cur[swap[0]] = swap[1];
    changed[swap[0]] = true;
    swaps.push(swap);
  }
}

describe('nearestNeighbourCandidates', () => {
  it('lists each word\'s nearest other words by cosine, nearest first, within the distance, without zero rows', () => {
    // Angles 0°, 10°, 30°, 90°, 180° on the unit circle (word 5 is all zeros).
    const deg = [0, 10, 30, 90, 180].map((a) => (a * Math.PI) / 180);
    const m = tf.tensor2d([...deg.map((a) => [2 * Math.cos(a), 2 * Math.sin(a)]), [0, 0]]);
    const t = nearestNeighbourCandidates(m, 3, 1 - Math.cos((55 * Math.PI) / 180));
    expect([t.vocabSize, t.k]).toEqual([6, 3]);
    expect(Array.from(t.neighbours)).toEqual([1, 2, -1, 0, 2, -1, 1, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]);
    // Distance 1 (90°) reaches word 3 from words 0–2 (word 2 is 60° from it); distance 2 reaches everything but the zero row.
    const wide = nearestNeighbourCandidates(m, 4, 2);
    expect(Array.from(wide.neighbours.subarray(0, 4))).toEqual([1, 2, 3, 4]);
    expect(Array.from(wide.neighbours.subarray(5 * 4, 6 * 4))).toEqual([-1, -1, -1, -1]);
    // Distance 0 keeps only identical directions; ties go to the lower id; k above the vocabulary pads with −1.
    const same = tf.tensor2d([[1, 0], [0, 3], [0, 1], [2, 0]]);
    expect(Array.from(nearestNeighbourCandidates(same, 5, 0).neighbours)).toEqual([3, -1, -1, -1, -1, 2, -1, -1, -1, -1, 1, -1, -1, -1, -1, 0, -1, -1, -1, -1]);
    expect(Array.from(nearestNeighbourCandidates(same, 2, 1).neighbours)).toEqual([3, 1, 2, 0, 1, 0, 0, 1]);
    tf.dispose([m, same]);
  });

  it.each([
    ['k = 0', 0, 1],
    ['a fractional k', 1.5, 1],
    ['a negative distance', 2, -0.1],
    ['a distance above 2', 2, 2.5],
    ['a NaN distance', 2, Number.NaN],
  ])('refuses %s with a config error', (_, k, dist) => {
    const m = tf.tensor2d([[1, 0], [0, 1]]);
    expect(() => nearestNeighbourCandidates(m, k, dist)).toThrow(expect.objectContaining({ code: 'config' }));
    m.dispose();
  });
});

describe('wordSubstitutionAttack', () => {
  it('makes exactly the greedy first-order swaps on a hand-built model (known embedding and weights)', () => {
    const E = [[0, 0], [0.1, 0.2], [1, 0], [0.8, 0.3], [-0.5, 0.9], [0.2, -1], [-1, -0.4]];
    const W = [[0.9, -0.4], [0.3, 0.7], [-0.6, 0.2], [0.5, 0.5], [0.1, -0.8], [-0.7, 0.6]];
    const b = [0.4, -0.1];
    const m = linearTextModel(E, W, b, 3);
    // Word 2's candidates 3, 4, 5; word 3's 2, 6; word 6's 0 (PAD: never put in) and 4.
    const neighbours = new Int32Array(7 * 3).fill(-1);
    neighbours.set([3, 4, 5], 2 * 3);
    neighbours.set([2, 6, -1], 3 * 3);
    neighbours.set([0, 4, -1], 6 * 3);
    const table: CandidateTable = { vocabSize: 7, k: 3, neighbours };
    const x = [2, 3, 6];
    const z = b.map((bj, j) => bj + x.reduce((s, w, p) => s + E[w][0] * W[p * 2][j] + E[w][1] * W[p * 2 + 1][j], 0));
    const label = z[0] > z[1] ? 0 : 1;
    for (const budget of [1, 2, 3]) {
      const want = referenceGreedy(E, W, b, x, label, table, budget, [0, 1]);
      const got = wordSubstitutionAttack(m, Int32Array.from(x), Int32Array.of(label), { budget, candidates: table });
      expect(Array.from(got.adversarialIds)).toEqual(want.cur);
      expect([got.replaced[0], got.success[0], got.correctBefore[0]]).toEqual([want.swaps.length, want.flipped ? 1 : 0, 1]);
    }
    // By hand: logits [1.15, 0.37] (label 0), softmax − y = [−0.3143, 0.3143]; the gains are, at position 0
    // (g = [−0.409, 0.126]) 3: 0.119, 4: 0.726, 5: 0.201; at 1 (g = [0.251, 0]) 2: 0.050, 6: −0.453; at 2
    // (g = [−0.283, 0.409]) 4: 0.390 (PAD is never put in). The first swap is word 4 at position 0.
    expect(referenceGreedy(E, W, b, x, label, table, 1, [0, 1]).swaps[0]).toEqual([0, 4]);
    expect(label).toBe(0);
    const one = wordSubstitutionAttack(m, Int32Array.from(x), Int32Array.of(label), { budget: 1, candidates: table });
    expect(Array.from(one.adversarialIds)).toEqual([4, 3, 6]);
    m.dispose();
  });

  it('never exceeds the budget, never touches PAD or protected ids, only puts in candidates of the original word', () => {
    const protectedIds = [0, 1, ...KEYWORDS[0]];
    for (const budget of [0, 1, 3]) {
      const r = wordSubstitutionAttack(model, ids, test.y, { budget, candidates, protectedIds });
      for (let i = 0; i < test.y.length; i++) {
        let diff = 0;
        for (let p = 0; p < SEQ_LEN; p++) {
          const before = ids[i * SEQ_LEN + p];
          const after = r.adversarialIds[i * SEQ_LEN + p];
          if (before === after) continue;
          diff++;
          expect(protectedIds).not.toContain(before);
          expect(protectedIds).not.toContain(after);
          expect(Array.from(candidates.neighbours.subarray(before * candidates.k, (before + 1) * candidates.k))).toContain(after);
        }
        expect(diff).toBe(r.replaced[i]);
        expect(r.replaced[i]).toBeLessThanOrEqual(budget);
        expect(r.budgets[i]).toBe(budget);
        // A success is a correct example the attack turned wrong.
        if (r.success[i]) expect(r.correctBefore[i]).toBe(1);
      }
    }
    expect(ids).toEqual(Int32Array.from(test.x));
  });

  it('a share budget is ⌊share · non-pad tokens⌋ words per example', () => {
    const r = wordSubstitutionAttack(model, ids, test.y, { budget: 0.25, budgetUnit: 'share', candidates });
    for (let i = 0; i < test.y.length; i++) {
      let tokens = 0;
      for (let p = 0; p < SEQ_LEN; p++) if (ids[i * SEQ_LEN + p] !== 0) tokens++;
      expect(r.budgets[i]).toBe(Math.floor(0.25 * tokens));
      expect(r.replaced[i]).toBeLessThanOrEqual(r.budgets[i]);
    }
    expect(new Set(r.budgets)).toEqual(new Set([1, 2, 3, 4].filter((v) => Array.from(r.budgets).includes(v))));
    expect(Math.min(...r.budgets)).toBeGreaterThanOrEqual(1);
  });

  it('lowers accuracy monotonically in the budget; evaluateTextAttack matches one attack per budget', () => {
    const budgets = [0, 1, 2, 4];
    const rows = evaluateTextAttack(model, test, budgets, { candidates });
    for (const row of rows) expect(TextAttackRowSchema.parse(row)).toEqual(row);
    expect(rows[0].accuracy).toBeGreaterThan(0.95);
    expect(rows[0].attackSuccessRate).toBe(0);
    expect(rows[3].accuracy).toBeLessThan(0.3);
    for (let q = 1; q < rows.length; q++) expect(rows[q].accuracy).toBeLessThanOrEqual(rows[q - 1].accuracy);
    budgets.forEach((budget, q) => {
      const r = wordSubstitutionAttack(model, ids, test.y, { budget, candidates });
      const correct = r.correctBefore.reduce((s, v, i) => s + (v && !r.success[i] ? 1 : 0), 0);
      const successes = r.success.reduce((s, v) => s + v, 0);
      const words = r.replaced.reduce((s, v, i) => s + (r.success[i] ? v : 0), 0);
      expect(rows[q]).toEqual({
        attack: 'word-substitution',
        budget,
        budgetUnit: 'words',
        examples: test.y.length,
        accuracy: correct / test.y.length,
        attackSuccessRate: successes / r.correctBefore.reduce((s, v) => s + v, 0),
        meanReplaced: successes ? words / successes : 0,
      });
    });
  });

  it('the robustness report takes the rows as its optional textAttacks', () => {
    const rows = evaluateTextAttack(model, test, [1], { candidates });
    expect(RobustnessReportSchema.shape.textAttacks.parse(rows)).toEqual(rows);
    expect(RobustnessReportSchema.shape.textAttacks.safeParse(undefined).success).toBe(true);
    expect(TextAttackRowSchema.safeParse({ ...rows[0], accuracy: 1.5 }).success).toBe(false);
    expect(evaluateTextAttack(model, test, [], { candidates })).toEqual([]);
  });

  it('evaluateRobustness runs it on its attacked examples when asked (textAttacks), and not otherwise', async () => {
    const off = { noise: false, corruptions: false, fgsm: false, pgd: false } as const;
    const report = await evaluateRobustness(model, test, { ...off, examples: 80, adversarialExamples: 30, seed: 4, textAttack: { budgets: [1, 3], candidates } });
    expect(RobustnessReportSchema.parse(report).textAttacks).toEqual(report.textAttacks);
    expect(report.textAttacks!.map((r) => [r.budget, r.examples])).toEqual([[1, 30], [3, 30]]);
    // The same rows as the attack on the report's own sample (seeded) of 80, first 30.
    const plain = await evaluateRobustness(model, test, { ...off, examples: 80, adversarialExamples: 30, seed: 4 });
    expect(plain.textAttacks).toBeUndefined();
    const order = new SeededRandom(deriveSeed(4, 'sample')).shuffle(Array.from({ length: test.y.length }, (_, i) => i)).slice(0, 30);
    expect(report.textAttacks).toEqual(evaluateTextAttack(model, subset(test, order), [1, 3], { candidates }));
    expect(report.textAttacks![1].accuracy).toBeLessThan(report.clean.accuracy);
  });

  it('leaks no tensors', () => {
    wordSubstitutionAttack(model, ids.subarray(0, 8 * SEQ_LEN), test.y.subarray(0, 8), { budget: 2, candidates, batchSize: 3 });
    const before = tf.memory().numTensors;
    wordSubstitutionAttack(model, ids.subarray(0, 8 * SEQ_LEN), test.y.subarray(0, 8), { budget: 2, candidates, batchSize: 3 });
    evaluateTextAttack(model, test, [1, 2], { candidates });
    const t = nearestNeighbourCandidates(model.layers[0].getWeights()[0] as tf.Tensor2D, 4, 1);
    expect(t.vocabSize).toBe(VOCAB);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ['a fractional word budget', { budget: 1.5 }, 'config'],
    ['a negative budget', { budget: -1 }, 'config'],
    ['a share above 1', { budget: 1.5, budgetUnit: 'share' as const }, 'config'],
    ['a NaN budget', { budget: Number.NaN }, 'config'],
  ])('refuses %s', (_, opts, code) => {
    expect(() => wordSubstitutionAttack(model, ids, test.y, { candidates, ...opts })).toThrow(expect.objectContaining({ code }));
  });

  it('refuses a model without an Embedding first layer, ids outside the vocabulary, a table of another vocabulary, fractional ids', () => {
    const dense = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [SEQ_LEN] })] });
    expect(() => wordSubstitutionAttack(dense, ids, test.y, { budget: 1, candidates })).toThrow(/first layer is an Embedding.*Dense/);
    dense.dispose();
    const bad = ids.slice();
    bad[5] = VOCAB;
    expect(() => wordSubstitutionAttack(model, bad, test.y, { budget: 1, candidates })).toThrow(expect.objectContaining({ code: 'data' }));
    expect(() => wordSubstitutionAttack(model, ids.subarray(1), test.y, { budget: 1, candidates })).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    const badLabels = test.y.slice();
    badLabels[7] = 2;
    expect(() => wordSubstitutionAttack(model, ids, badLabels, { budget: 1, candidates })).toThrow(/label 2 of example 7 is outside the model's 2 classes/);
    expect(() => wordSubstitutionAttack(model, ids, test.y, { budget: 1, candidates: { ...candidates, vocabSize: 10 } })).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    const fractional = { ...test, x: Float32Array.from(test.x, (v, i) => (i === 3 ? v + 0.5 : v)) };
    expect(() => evaluateTextAttack(model, fractional, [1], { candidates })).toThrow(expect.objectContaining({ code: 'data' }));
    expect(FILLERS.length).toBe(40);
  });
});
