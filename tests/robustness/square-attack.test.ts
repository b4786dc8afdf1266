import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateRobustness, FedtuneError, ROBUSTNESS_DEFAULTS, robustnessWarnings, squareAttack, squareShare, type Dataset, type SquareAttackParams } from '@fedtune/shared';
import { linearAttackModel, Quantize } from '../helpers/linear-attack-model.ts';
import { consoleLines } from '../helpers/console-lines.ts';
import { printRobustness } from '../../cli/src/ui/robustness-summary.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';

// The Square Attack (shared/src/robustness/attacks/square.ts): black-box L∞ random search on the margin loss.
// The linear two-class model of the exact attack tests: logits = x·W + b, z₀ − z₁ = 0.5 − x·d with
// d = W₁ − W₀ = [1, −1, 2, −3], so the worst point of the ε-ball for class 0 is x + ε·sign(d), where the margin
// falls by ε·‖d‖₁ = 7ε.
const X = [
  [0.5, 0.4, 0.6, 0.5], // margin 0.7: survives ε = 0.05 (0.35 left), falls at ε = 0.2
  [0.9, 0.1, 0.95, 0.02], // class 1, margin z₁ − z₀ = x·d − 0.5 = 2.04: survives every ε here
];
const LABELS = [0, 1];
const fixture = linearAttackModel(X, LABELS);
let model: tf.LayersModel;
beforeAll(() => ({ model } = fixture));

const data = (rows: number[][], labels: number[]): Dataset => ({ x: Float32Array.from(rows.flat()), y: Int32Array.from(labels), featureShape: [rows[0]!.length], numClasses: 2 });
const params = (over: Partial<SquareAttackParams> = {}): SquareAttackParams => ({ eps: 0.05, queries: 200, pInit: 0.5, seed: 3, clipMin: 0, clipMax: 1, height: 1, width: 4, ...over });

describe('squareShare: the paper\'s schedule of the squares\' size', () => {
  it.each([
    [0, 10_000, 0.8],
    [10, 10_000, 0.8],
    [11, 10_000, 0.4],
    [50, 10_000, 0.4],
    [51, 10_000, 0.2],
    [200, 10_000, 0.2],
    [201, 10_000, 0.1],
    [500, 10_000, 0.1],
    [501, 10_000, 0.05],
    [1000, 10_000, 0.05],
    [1001, 10_000, 0.025],
    [2001, 10_000, 0.0125],
    [4001, 10_000, 0.00625],
    [6001, 10_000, 0.003125],
    [8001, 10_000, 0.0015625],
    [9999, 10_000, 0.0015625],
    // Rescaled to the budget: iteration 1 of 1000 is 10 of 10,000, iteration 2 is 20.
    [1, 1000, 0.8],
    [2, 1000, 0.4],
    [100, 1000, 0.05],
  ])('iteration %i of %i: %f', async (it, queries, share) => {
    expect(squareShare(0.8, it, queries)).toBeCloseTo(share, 12);
  });
});

describe('squareAttack on a linear model (the optimum known in closed form)', () => {
  it('an example it cannot fool ends on the worst vertex x + ε·sign(d), within the ball and the range', async () => {
    const r = await squareAttack(model, data([X[0]!], [0]), params());
    expect(Array.from(r.robust)).toEqual([1]);
    const worst = [0.55, 0.35, 0.65, 0.45];
    Array.from(r.x).forEach((v, j) => expect(v).toBeCloseTo(worst[j]!, 6));
    // A robust example spends the whole budget.
    expect(Array.from(r.queries)).toEqual([200]);
  });

  it('fools what the ε-ball allows (margin 0.7 < 7·0.2) and stops querying it once fooled', async () => {
    const r = await squareAttack(model, data(X, LABELS), params({ eps: 0.2 }));
    expect(Array.from(r.robust)).toEqual([0, 1]);
    expect(r.queries[0]).toBeLessThan(200);
    expect(r.queries[1]).toBe(200);
    // Every coordinate is a vertex of the ball, clipped to [0, 1].
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 4; j++) {
        const x0 = X[i]![j]!;
        const v = r.x[i * 4 + j]!;
        const vertices = [Math.min(1, x0 + 0.2), Math.max(0, x0 - 0.2)].map((c) => Math.fround(c));
        expect(vertices).toContain(v);
      }
    }
    // The fooled example's logits: class 1 is now ahead.
    const logits = tf.tidy(() => (model.predict(tf.tensor2d(Array.from(r.x.subarray(0, 4)), [1, 4])) as tf.Tensor).dataSync());
    expect(logits[1]).toBeGreaterThanOrEqual(logits[0]!);
  });

  it('per-feature units: feature j moves by ε·scale[j]', async () => {
    const scale = Float32Array.from([1, 0.5, 2, 0]);
    const r = await squareAttack(model, data([X[0]!], [0]), params({ eps: 0.05, scale }));
    const worst = [0.55, 0.375, 0.7, 0.5];
    Array.from(r.x).forEach((v, j) => expect(v).toBeCloseTo(worst[j]!, 6));
  });

  it('ε = 0 changes nothing: one query, robust where the model is right', async () => {
    const r = await squareAttack(model, data(X, [1, 1]), params({ eps: 0 }));
    expect(Array.from(r.x)).toEqual(Array.from(Float32Array.from(X.flat())));
    expect(Array.from(r.robust)).toEqual([0, 1]);
    expect(Array.from(r.queries)).toEqual([1, 1]);
  });

  it('is seeded: the same seed gives the same points, another seed another search', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => [0.3 + 0.01 * i, 0.5, 0.4, 0.2 + 0.02 * i]);
    const labels = rows.map(() => 0);
    const a = await squareAttack(model, data(rows, labels), params({ eps: 0.02, queries: 3, seed: 1 }));
    const b = await squareAttack(model, data(rows, labels), params({ eps: 0.02, queries: 3, seed: 1 }));
    const c = await squareAttack(model, data(rows, labels), params({ eps: 0.02, queries: 3, seed: 2 }));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(a.x)).not.toEqual(Array.from(c.x));
  });

  it('yields to the event loop between queries: timers run while it searches', async () => {
    // A chain of setImmediate counts the turns of the event loop (a synchronous search would allow one).
    let ticks = 0;
    let running = true;
    const tick = () => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    try {
      const r = await squareAttack(model, data([X[0]!], [0]), params({ queries: 30 }));
      expect(r.queries[0]).toBe(30);
    } finally {
      running = false;
    }
    expect(ticks).toBeGreaterThanOrEqual(20);
  });

  it('leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    await squareAttack(model, data(X, LABELS), params({ eps: 0.2, queries: 20 }));
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    [{ queries: 0 }, /queries must be an integer ≥ 1/],
    [{ queries: 1.5 }, /queries must be an integer ≥ 1/],
    [{ pInit: 0 }, /pInit must be in \(0, 1\]/],
    [{ pInit: 1.01 }, /pInit must be in \(0, 1\]/],
    [{ eps: -0.1 }, /eps must be ≥ 0/],
    [{ eps: Number.NaN }, /eps must be ≥ 0/],
    [{ height: 3, width: 3 }, /4 features are not images of 3×3/],
    [{ scale: new Float32Array(3) }, /scale has 3 values, the inputs have 4 features/],
  ])('refuses %o with a config error', async (over, message) => {
    let error: unknown;
    try {
      await squareAttack(model, data(X, LABELS), params(over as Partial<SquareAttackParams>));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FedtuneError);
    expect((error as FedtuneError).code).toBe('config');
    expect((error as Error).message).toMatch(message);
  });
});

describe('the black-box self-check: Square against PGD in evaluateRobustness', () => {
  // Random points labelled by the linear model itself, so the clean accuracy is 100 %.
  const rng = new SeededRandom(11);
  const rows = Array.from({ length: 120 }, () => Array.from({ length: 4 }, () => rng.next()));
  const labelledBy = (m: tf.LayersModel) => {
    const logits = tf.tidy(() => (m.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);
    return data(rows, logits.map((z) => (z[1]! > z[0]! ? 1 : 0)));
  };
  const options = { examples: 120, adversarialExamples: 120, noise: false, corruptions: false, fgsm: [0.1], pgd: [0.1], pgdSteps: 10, pgdStepSize: 0.025, square: [0.1], squareQueries: 200, inputKind: 'tabular' as const, epsUnits: 'absolute' as const };

  it('an honest model: Square is no stronger than PGD, no warning', async () => {
    const report = await evaluateRobustness(model, labelledBy(model), options);
    expect(report.square).toEqual([expect.objectContaining({ eps: 0.1, queries: 200, pInit: ROBUSTNESS_DEFAULTS.squarePInit })]);
    expect(ROBUSTNESS_DEFAULTS.squarePInit).toBe(0.8);
    expect(report.square![0]!.accuracy).toBeGreaterThanOrEqual(report.pgd[0]!.accuracy - 0.02);
    expect(report.warnings.filter((w) => /Square/.test(w))).toEqual([]);
  });

  it('a masked model (a staircase before the linear layer): PGD stalls, Square does not, and the report says so', async () => {
    const masked = tf.sequential({ layers: [new Quantize({ inputShape: [4] }), tf.layers.dense({ units: 2 })] });
    try {
      masked.layers[1]!.setWeights(model.layers[0]!.getWeights());
      const report = await evaluateRobustness(masked, labelledBy(masked), options);
      const [s, p] = [report.square![0]!.accuracy, report.pgd[0]!.accuracy];
      expect(s).toBeLessThan(p - 0.1);
      expect(report.warnings).toContainEqual(expect.stringMatching(/^the black-box Square attack beats PGD at ε=0\.1: .*gradient masking/));
      // The CLI's summary prints the row and the warning.
      const lines = consoleLines(() => printRobustness(report, ''));
      expect(lines).toContainEqual(expect.stringMatching(/^ {2}Square \(black-box, ≤ 200 queries\): ε=0\.1 \d/));
      expect(lines).toContainEqual(expect.stringMatching(/^ {2}warning: the black-box Square attack beats PGD/));
      // A tolerance as large as the gap silences it (the option has an effect).
      const lenient = await evaluateRobustness(masked, labelledBy(masked), { ...options, selfChecks: { blackBoxTolerance: p - s + 0.01 } });
      expect(lenient.warnings.filter((w) => /Square/.test(w))).toEqual([]);
    } finally {
      masked.dispose();
    }
  });

  it('options: square true takes the PGD list, squareQueries and squarePInit reach the rows, false runs none', async () => {
    const ds = labelledBy(model);
    const base = { ...options, squareQueries: 7, squarePInit: 0.6 };
    const all = await evaluateRobustness(model, ds, { ...base, pgd: [0.05, 0.1], square: true });
    expect(all.square!.map((r) => [r.eps, r.queries, r.pInit])).toEqual([
      [0.05, 7, 0.6],
      [0.1, 7, 0.6],
    ]);
    for (const r of all.square!) expect(r.meanQueries).toBeLessThanOrEqual(7);
    expect(all.timings.square).toBeGreaterThanOrEqual(0);
    const none = await evaluateRobustness(model, ds, { ...base, square: false });
    expect(none.square).toBeUndefined();
    const withHeadline = await evaluateRobustness(model, ds, { ...base, square: [0.1], headlineEps: 0.06 });
    expect(withHeadline.square!.map((r) => r.eps)).toEqual([0.06, 0.1]);
  });
});

describe('robustnessWarnings: the Square rows', () => {
  const base = { fgsm: [], pgd: [{ eps: 0.1, steps: 10, stepSize: 0.025, accuracy: 0.6 }], adversarialCleanAccuracy: 0.9 };
  const square = (rows: Array<[number, number]>) => rows.map(([eps, accuracy]) => ({ eps, queries: 100, pInit: 0.3, meanQueries: 50, accuracy }));
  it.each([
    [[[0.1, 0.58]], 0],
    [[[0.1, 0.579]], 1],
    [[[0.05, 0.1]], 0], // no PGD row at that ε: nothing to compare
  ] as Array<[Array<[number, number]>, number]>)('Square %j against PGD 60 %% at 0.1: %i warning(s) (tolerance 0.02)', async (rows, n) => {
    expect(robustnessWarnings({ ...base, square: square(rows) }, null).filter((w) => /black-box/.test(w))).toHaveLength(n);
  });

  it('Square accuracy rising with ε, or above the clean accuracy, is flagged like the other attacks', async () => {
    const w = robustnessWarnings({ ...base, square: square([[0.05, 0.7], [0.1, 0.8], [0.2, 0.95]]) }, null);
    expect(w).toContainEqual('Square accuracy rises with ε: 70.0% at ε=0.05 but 80.0% at ε=0.1 (gradient masking?)');
    expect(w).toContainEqual('Square accuracy at ε=0.2 (95.0%) exceeds the clean accuracy of the same examples (90.0%)');
  });
});

describe('squareAttack on images with channels: equal to a reference implementation, query by query', () => {
  // A linear model on 4×2 images of 2 channels (16 features, channels last) with 3 classes; its margins are
  // computed here in float64 from the same float32 weights.
  const H = 4;
  const Wd = 2;
  const C = 2;
  const F = H * Wd * C;
  const K = 3;
  const wr = new SeededRandom(5);
  const weights = Float32Array.from({ length: F * K }, () => wr.uniform(-1, 1));
  const bias = Float32Array.from([0.4, -0.1, 0.2]);
  let image: tf.LayersModel;
  beforeAll(() => {
    image = tf.sequential({ layers: [tf.layers.dense({ units: K, inputShape: [F] })] });
    image.setWeights([tf.tensor2d(weights, [F, K]), tf.tensor1d(bias)]);
  });
  const logits = (x: ArrayLike<number>, o: number) => Array.from({ length: K }, (_, c) => {
    let z = bias[c]!;
    for (let j = 0; j < F; j++) z += x[o + j]! * weights[j * K + c]!;
    return z;
  });
  const margin = (x: ArrayLike<number>, o: number, y: number) => {
    const z = logits(x, o);
    return z[y]! - Math.max(...z.filter((_, c) => c !== y));
  };

  function reference(x0: Float32Array, labels: number[], p: SquareAttackParams): { x: Float32Array; robust: number[]; queries: number[] } {
    const n = labels.length;
    const rng = new SeededRandom(p.seed);
    const r = (j: number) => p.eps * (p.scale ? p.scale[j]! : 1);
    const vertex = (i: number, j: number, s: number) => Math.min(p.clipMax, Math.max(p.clipMin, x0[i * F + j]! + s * r(j)));
    const best = new Float32Array(n * F);
    for (let i = 0; i < n; i++) {
      const signs = Array.from({ length: Wd * C }, () => (rng.next() < 0.5 ? -1 : 1));
      for (let row = 0; row < H; row++) for (let col = 0; col < Wd; col++) for (let ch = 0; ch < C; ch++) best[i * F + (row * Wd + col) * C + ch] = vertex(i, (row * Wd + col) * C + ch, signs[col * C + ch]!);
    }
    const bestM = labels.map((y, i) => margin(best, i * F, y));
    const used = labels.map(() => 1);
    for (let it = 1; it < p.queries; it++) {
      const active = labels.map((_, i) => i).filter((i) => bestM[i]! > 0);
      if (!active.length) break;
      const side = Math.max(1, Math.min(H, Wd, Math.round(Math.sqrt(squareShare(p.pInit, it, p.queries) * H * Wd))));
      const cands = active.map((i) => {
        const cand = best.slice(i * F, (i + 1) * F);
        const r0 = rng.int(H - side + 1);
        const c0 = rng.int(Wd - side + 1);
        const signs = Array.from({ length: C }, () => (rng.next() < 0.5 ? -1 : 1));
        for (let row = r0; row < r0 + side; row++) for (let col = c0; col < c0 + side; col++) for (let ch = 0; ch < C; ch++) cand[(row * Wd + col) * C + ch] = vertex(i, (row * Wd + col) * C + ch, signs[ch]!);
        return cand;
      });
      active.forEach((i, a) => {
        used[i]!++;
        const m = margin(cands[a]!, 0, labels[i]!);
        if (m < bestM[i]!) {
          bestM[i] = m;
          best.set(cands[a]!, i * F);
        }
      });
    }
    return { x: best, robust: bestM.map((m) => (m > 0 ? 1 : 0)), queries: used };
  }

  const xr = new SeededRandom(9);
  const N = 12;
  // Some pixels at the range's edges, so clipping matters.
  const x0 = Float32Array.from({ length: N * F }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? 1 : xr.next()));
  const labelsOf = () => Array.from({ length: N }, (_, i) => {
    const z = logits(x0, i * F);
    return z.indexOf(Math.max(...z));
  });
  const ds = (labels: number[]): Dataset => ({ x: x0, y: Int32Array.from(labels), featureShape: [F], numClasses: K });

  it.each([
    ['the initial stripes alone (1 query)', { queries: 1 }],
    ['40 queries, the first squares half the image', { queries: 40, pInit: 0.5 }],
    ['200 queries, whole-image squares first', { queries: 200, pInit: 1 }],
    ['per-feature units', { queries: 60, pInit: 0.5, scale: Float32Array.from({ length: F }, (_, j) => 0.5 + (j % 3) * 0.5) }],
  ] as Array<[string, Partial<SquareAttackParams>]>)('%s', async (_name, over) => {
    const labels = labelsOf();
    // Every example starts correctly classified (the labels are the model's own), some are fooled, some are not.
    const p = { eps: 0.15, queries: 1, pInit: 0.5, seed: 4, clipMin: 0, clipMax: 1, height: H, width: Wd, ...over };
    const got = await squareAttack(image, ds(labels), p);
    const want = reference(x0, labels, p);
    expect(Array.from(got.x)).toEqual(Array.from(want.x));
    expect(Array.from(got.robust)).toEqual(want.robust);
    expect(Array.from(got.queries)).toEqual(want.queries);
    // With more than the stripes, the search fools some examples and not others.
    if (p.queries >= 40) expect(new Set(want.robust).size).toBe(2);
  });

  it('the stripes: one sign per column and channel, the same on every row', async () => {
    const labels = labelsOf();
    const got = await squareAttack(image, ds(labels), { eps: 0.1, queries: 1, pInit: 0.5, seed: 2, clipMin: -10, clipMax: 10, height: H, width: Wd });
    for (let i = 0; i < N; i++) {
      for (let col = 0; col < Wd; col++) {
        for (let ch = 0; ch < C; ch++) {
          const deltas = Array.from({ length: H }, (_, row) => got.x[i * F + (row * Wd + col) * C + ch]! - x0[i * F + (row * Wd + col) * C + ch]!);
          for (const d of deltas) expect(Math.abs(d - deltas[0]!)).toBeLessThan(1e-6);
          expect(Math.abs(Math.abs(deltas[0]!) - 0.1)).toBeLessThan(1e-6);
        }
      }
    }
  });

  it('a candidate that ties the best margin is not taken: with constant logits the stripes stay', async () => {
    const flat = tf.sequential({ layers: [tf.layers.dense({ units: K, inputShape: [F] })] });
    try {
      flat.setWeights([tf.zeros([F, K]), tf.tensor1d([1, 0, 0])]);
      const labels = Array.from({ length: N }, () => 0);
      const stripes = await squareAttack(flat, ds(labels), { eps: 0.1, queries: 1, pInit: 0.5, seed: 8, clipMin: 0, clipMax: 1, height: H, width: Wd });
      const after = await squareAttack(flat, ds(labels), { eps: 0.1, queries: 30, pInit: 0.5, seed: 8, clipMin: 0, clipMax: 1, height: H, width: Wd });
      expect(Array.from(after.x)).toEqual(Array.from(stripes.x));
      expect(Array.from(after.queries)).toEqual(labels.map(() => 30));
    } finally {
      flat.dispose();
    }
  });

  it.each([
    [{ queries: 1 }, true],
    [{ pInit: 1 }, true],
    [{ height: -4, width: -2 }, false],
    [{ height: 0, width: 2 }, false],
    [{ height: 2.5, width: 2 }, false],
    [{ height: 4, width: -2 }, false],
    [{ height: -4, width: 2 }, false],
    [{ height: -2, width: -8 }, false],
    [{ height: 8, width: 0.5 }, false],
    [{ height: 0.5, width: 8 }, false],
    [{ height: 16, width: 1 }, true],
    [{ height: 1, width: 16 }, true],
  ] as Array<[Partial<SquareAttackParams>, boolean]>)('bounds: %o accepted = %s', async (over, ok) => {
    const run = () => squareAttack(image, ds(labelsOf()), { eps: 0.1, queries: 2, pInit: 0.5, seed: 1, clipMin: 0, clipMax: 1, height: H, width: Wd, ...over });
    if (ok) await expect(run()).resolves.toBeDefined();
    else await expect(run()).rejects.toThrow(/features are not images of/);
  });
});
