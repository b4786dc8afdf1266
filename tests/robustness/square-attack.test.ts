import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { evaluateRobustness, FedtuneError, ROBUSTNESS_DEFAULTS, robustnessWarnings, squareAttack, squareShare, type Dataset, type SquareAttackParams } from '@fedtune/shared';
import { linearAttackModel } from '../helpers/linear-attack-model.ts';
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
  ])('iteration %i of %i: %f', (it, queries, share) => {
    expect(squareShare(0.8, it, queries)).toBeCloseTo(share, 12);
  });
});

describe('squareAttack on a linear model (the optimum known in closed form)', () => {
  it('an example it cannot fool ends on the worst vertex x + ε·sign(d), within the ball and the range', () => {
    const r = squareAttack(model, data([X[0]!], [0]), params());
    expect(Array.from(r.robust)).toEqual([1]);
    const worst = [0.55, 0.35, 0.65, 0.45];
    Array.from(r.x).forEach((v, j) => expect(v).toBeCloseTo(worst[j]!, 6));
    // A robust example spends the whole budget.
    expect(Array.from(r.queries)).toEqual([200]);
  });

  it('fools what the ε-ball allows (margin 0.7 < 7·0.2) and stops querying it once fooled', () => {
    const r = squareAttack(model, data(X, LABELS), params({ eps: 0.2 }));
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

  it('per-feature units: feature j moves by ε·scale[j]', () => {
    const scale = Float32Array.from([1, 0.5, 2, 0]);
    const r = squareAttack(model, data([X[0]!], [0]), params({ eps: 0.05, scale }));
    const worst = [0.55, 0.375, 0.7, 0.5];
    Array.from(r.x).forEach((v, j) => expect(v).toBeCloseTo(worst[j]!, 6));
  });

  it('ε = 0 changes nothing: one query, robust where the model is right', () => {
    const r = squareAttack(model, data(X, [1, 1]), params({ eps: 0 }));
    expect(Array.from(r.x)).toEqual(Array.from(Float32Array.from(X.flat())));
    expect(Array.from(r.robust)).toEqual([0, 1]);
    expect(Array.from(r.queries)).toEqual([1, 1]);
  });

  it('is seeded: the same seed gives the same points, another seed another search', () => {
    const rows = Array.from({ length: 20 }, (_, i) => [0.3 + 0.01 * i, 0.5, 0.4, 0.2 + 0.02 * i]);
    const labels = rows.map(() => 0);
    const a = squareAttack(model, data(rows, labels), params({ eps: 0.02, queries: 3, seed: 1 }));
    const b = squareAttack(model, data(rows, labels), params({ eps: 0.02, queries: 3, seed: 1 }));
    const c = squareAttack(model, data(rows, labels), params({ eps: 0.02, queries: 3, seed: 2 }));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(a.x)).not.toEqual(Array.from(c.x));
  });

  it('leaks no tensor', () => {
    const before = tf.memory().numTensors;
    squareAttack(model, data(X, LABELS), params({ eps: 0.2, queries: 20 }));
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
  ])('refuses %o with a config error', (over, message) => {
    let error: unknown;
    try {
      squareAttack(model, data(X, LABELS), params(over as Partial<SquareAttackParams>));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FedtuneError);
    expect((error as FedtuneError).code).toBe('config');
    expect((error as Error).message).toMatch(message);
  });
});

/** x ↦ round(4x)/4: a staircase whose gradient is zero almost everywhere — the textbook masked gradient. */
class Quantize extends tf.layers.Layer {
  static className = 'FedtuneTestQuantize';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.div(tf.round(tf.mul(x, 4)), 4));
  }
}

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
      const lines: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
      try {
        printRobustness(report, '');
      } finally {
        log.mockRestore();
      }
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
  ] as Array<[Array<[number, number]>, number]>)('Square %j against PGD 60 %% at 0.1: %i warning(s) (tolerance 0.02)', (rows, n) => {
    expect(robustnessWarnings({ ...base, square: square(rows) }, null).filter((w) => /black-box/.test(w))).toHaveLength(n);
  });

  it('Square accuracy rising with ε, or above the clean accuracy, is flagged like the other attacks', () => {
    const w = robustnessWarnings({ ...base, square: square([[0.05, 0.7], [0.1, 0.8], [0.2, 0.95]]) }, null);
    expect(w).toContainEqual('Square accuracy rises with ε: 70.0% at ε=0.05 but 80.0% at ε=0.1 (gradient masking?)');
    expect(w).toContainEqual('Square accuracy at ε=0.2 (95.0%) exceeds the clean accuracy of the same examples (90.0%)');
  });
});
