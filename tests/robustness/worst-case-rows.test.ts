import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  adversarialOutcomesByLoss,
  deriveSeed,
  evaluateAttackRowsFromEnd,
  evaluateRobustness,
  fgsm,
  FedtuneError,
  newAttackRowClaims,
  perturbationPlan,
  pgd,
  RobustnessReportSchema,
  squareAttack,
  subset,
  worstCaseRows,
  WORST_CASE_ATTACK_NAMES,
  type AttackOutcome,
  type Dataset,
  type RobustnessOptions,
} from '@fedtune/shared';
import { consoleLines } from '../helpers/console-lines.ts';
import { printRobustness, worstCaseLine } from '../../cli/src/ui/robustness-summary.ts';
import { linearAttackModel, Quantize } from '../helpers/linear-attack-model.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { thrown } from '../helpers/thrown.ts';

// The per-example worst case over the L∞ attacks at one ε (shared/src/robustness/worst-case-rows.ts), and
// evaluateRobustness's `worstCase` rows built from its own FGSM, PGD and Square outcomes.

const mask = (bits: string) => Uint8Array.from(bits, (c) => Number(c));
const outcome = (attack: AttackOutcome['attack'], eps: number, bits: string, epsAbsolute = eps): AttackOutcome => ({ attack, eps, epsAbsolute, robust: mask(bits) });

describe('worstCaseRows', () => {
  it.each([
    ['no outcomes', [], []],
    ['one attack per ε: nothing to combine', [outcome('pgd', 0.1, '1101'), outcome('fgsm', 0.2, '1111')], []],
    ['two attacks: the examples both left correct', [outcome('fgsm', 0.1, '1101'), outcome('pgd', 0.1, '0111')], [{ eps: 0.1, epsAbsolute: 0.1, attacks: ['fgsm', 'pgd'], accuracy: 0.5 }]],
    ['three attacks, listed in any order: attacks named in fgsm, pgd, square order', [outcome('square', 0.1, '1110'), outcome('pgd', 0.1, '1111'), outcome('fgsm', 0.1, '0111')], [{ eps: 0.1, epsAbsolute: 0.1, attacks: ['fgsm', 'pgd', 'square'], accuracy: 0.5 }]],
    ['below every row it combines (no example robust to both)', [outcome('pgd', 0.3, '1100'), outcome('square', 0.3, '0011')], [{ eps: 0.3, epsAbsolute: 0.3, attacks: ['pgd', 'square'], accuracy: 0 }]],
    ['every example robust to all', [outcome('pgd', 0.05, '111'), outcome('square', 0.05, '111')], [{ eps: 0.05, epsAbsolute: 0.05, attacks: ['pgd', 'square'], accuracy: 1 }]],
    [
      'one row per ε, ascending; an ε with one attack is skipped',
      [outcome('pgd', 0.2, '1000'), outcome('fgsm', 0.2, '1100'), outcome('pgd', 0.05, '1110'), outcome('fgsm', 0.05, '1011'), outcome('square', 0.1, '1111')],
      [
        { eps: 0.05, epsAbsolute: 0.05, attacks: ['fgsm', 'pgd'], accuracy: 0.5 },
        { eps: 0.2, epsAbsolute: 0.2, attacks: ['fgsm', 'pgd'], accuracy: 0.25 },
      ],
    ],
    ['the same attack twice at one ε is one attack: no row', [outcome('pgd', 0.1, '10'), outcome('pgd', 0.1, '01')], []],
    ['a repeated attack still counts against each example', [outcome('pgd', 0.1, '110'), outcome('pgd', 0.1, '011'), outcome('fgsm', 0.1, '111')], [{ eps: 0.1, epsAbsolute: 0.1, attacks: ['fgsm', 'pgd'], accuracy: 1 / 3 }]],
    ['ε in relative units: epsAbsolute is carried over', [outcome('fgsm', 0.5, '10', 0.15), outcome('pgd', 0.5, '11', 0.15)], [{ eps: 0.5, epsAbsolute: 0.15, attacks: ['fgsm', 'pgd'], accuracy: 0.5 }]],
    ['no attacked examples', [outcome('fgsm', 0.1, ''), outcome('pgd', 0.1, '')], [{ eps: 0.1, epsAbsolute: 0.1, attacks: ['fgsm', 'pgd'], accuracy: 0 }]],
  ])('%s', (_, outcomes, rows) => {
    expect(worstCaseRows(outcomes as AttackOutcome[])).toEqual(rows);
  });

  it('refuses outcomes of different examples with a typed error', () => {
    const bad = () => worstCaseRows([outcome('fgsm', 0.1, '11'), outcome('pgd', 0.2, '111')]);
    expect(bad).toThrow(FedtuneError);
    expect(bad).toThrow(/cover 3 and 2 examples/);
    expect(thrown(bad).code).toBe('internal');
  });

  it('summary line: the attacks once when every ε combines the same ones, else per ε; relative units through epsText', () => {
    const row = (eps: number, attacks: AttackOutcome['attack'][], accuracy: number) => ({ eps, epsAbsolute: eps / 2, attacks, accuracy });
    expect(worstCaseLine([row(0.05, ['fgsm', 'pgd'], 0.72), row(0.1, ['fgsm', 'pgd'], 0.36)])).toBe('worst case per example (FGSM, PGD): ε=0.05 72.0%, ε=0.1 36.0%');
    expect(worstCaseLine([row(0.05, ['fgsm', 'pgd'], 0.72), row(0.06, ['fgsm', 'pgd', 'square'], 0.63)])).toBe('worst case per example: ε=0.05 72.0% (FGSM, PGD), ε=0.06 63.0% (FGSM, PGD, Square)');
    expect(worstCaseLine([row(0.5, ['pgd', 'square'], 0.5)], (r) => `ε=${r.eps} (${r.epsAbsolute} absolute)`)).toBe('worst case per example (PGD, Square): ε=0.5 (0.25 absolute) 50.0%');
  });

  it('names the attacks as the summaries print them', () => {
    expect(WORST_CASE_ATTACK_NAMES).toEqual({ fgsm: 'FGSM', pgd: 'PGD', square: 'Square' });
  });
});

describe('evaluateRobustness: the worst case per example over FGSM, PGD and Square', () => {
  // A masked model (a staircase before the linear layer): FGSM sees no gradient, PGD's random start knocks
  // some points over a step, Square's search others — so the worst case is below every row, and the rows must
  // come from the attacks' own per-example outcomes. Random points labelled by the model itself.
  const fixture = linearAttackModel([[0, 0, 0, 0]], [0]);
  let masked: tf.LayersModel;
  let ds: Dataset;
  const options: RobustnessOptions = { examples: 120, adversarialExamples: 100, noise: false, corruptions: false, fgsm: [0.1, 0.2], pgd: [0.05, 0.1], pgdSteps: 10, pgdStepSize: 0.025, square: [0.1], squareQueries: 10, inputKind: 'tabular', epsUnits: 'absolute', inputRange: [0, 1], seed: 5 };
  beforeAll(() => {
    masked = tf.sequential({ layers: [new Quantize({ inputShape: [4] }), tf.layers.dense({ units: 2 })] });
    masked.layers[1]!.setWeights(fixture.model.layers[0]!.getWeights());
    const rng = new SeededRandom(11);
    const rows = Array.from({ length: 120 }, () => Array.from({ length: 4 }, () => rng.next()));
    const logits = tf.tidy(() => (masked.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);
    ds = { x: Float32Array.from(rows.flat()), y: Int32Array.from(logits.map((z) => (z[1]! > z[0]! ? 1 : 0))), featureShape: [4], numClasses: 2 };
  });
  afterAll(() => masked?.dispose());

  it('one row per ε where two or more ran, equal to the intersection of the attacks’ own outcomes', async () => {
    const report = await evaluateRobustness(masked, ds, options);
    expect(() => RobustnessReportSchema.parse(report)).not.toThrow();
    // ε 0.05: PGD only; 0.2: FGSM only; 0.1: all three.
    expect(report.worstCase!.map((r) => [r.eps, r.attacks])).toEqual([[0.1, ['fgsm', 'pgd', 'square']]]);
    // The same attacks, run outside the evaluation with its parameters.
    const plan = perturbationPlan(ds, options);
    const attacked = subset(plan.ds, Array.from({ length: 100 }, (_, i) => i));
    const base = { seed: plan.seed, clipMin: 0, clipMax: 1, batchSize: 250 };
    const f = (await adversarialOutcomesByLoss(masked, attacked, fgsm, { ...base, eps: 0.1, steps: 1, stepSize: 0.1 }, ['ce', 'margin'])).robust;
    const p = (await adversarialOutcomesByLoss(masked, attacked, pgd, { ...base, eps: 0.1, steps: 10, stepSize: 0.025 }, ['ce', 'margin'])).robust;
    const s = (await squareAttack(masked, attacked, { eps: 0.1, queries: 10, pInit: 0.8, seed: deriveSeed(plan.seed, 'square', 0.1), clipMin: 0, clipMax: 1, height: 1, width: 4, batchSize: 250 })).robust;
    const mean = (m: ArrayLike<number>) => Array.from(m).reduce((a, b) => a + b, 0) / m.length;
    // The outcomes reproduce the report's rows…
    expect(mean(f)).toBe(report.fgsm.find((r) => r.eps === 0.1)!.accuracy);
    expect(mean(p)).toBe(report.pgd.find((r) => r.eps === 0.1)!.accuracy);
    expect(mean(s)).toBe(report.square![0]!.accuracy);
    const all = f.map((v, i) => v & p[i]! & s[i]!);
    // …PGD and Square fool different points (else this test could not tell their outcomes apart; FGSM, with no
    // gradient to follow, fools none: the attacks list shows its row is combined)…
    expect(mean(all)).toBeLessThan(Math.min(mean(f), mean(p), mean(s)));
    expect(mean(p.map((v, i) => v & s[i]!))).toBeLessThan(Math.min(mean(p), mean(s)));
    // …and the worst case is exactly the points all three left correct.
    expect(report.worstCase![0]!.accuracy).toBe(mean(all));
    expect(report.worstCase![0]!.epsAbsolute).toBe(0.1);
  });

  it('the same rows when a helper computes the PGD rows (its outcomes travel with them)', async () => {
    const plain = await evaluateRobustness(masked, ds, options);
    const claims = newAttackRowClaims();
    const fromHelper = await evaluateAttackRowsFromEnd(masked, ds, options, claims);
    expect(fromHelper.rows.map((r) => r.robust.length)).toEqual([100, 100]);
    const shared = await evaluateRobustness(masked, ds, options, { sharing: { claims, helperRows: Promise.resolve(fromHelper) } });
    expect(shared.worstCase).toEqual(plain.worstCase);
    // A helper's outcomes are used, not recomputed: all-fooled outcomes give a worst case of 0.
    const claimsAgain = newAttackRowClaims();
    const forged = { ...fromHelper, rows: fromHelper.rows.map((r) => ({ ...r, robust: new Uint8Array(100) })) };
    const fromForged = await evaluateRobustness(masked, ds, options, { sharing: { claims: claimsAgain.fill(2), helperRows: Promise.resolve(forged) } });
    expect(fromForged.pgd).toEqual(plain.pgd);
    expect(fromForged.worstCase![0]!.accuracy).toBe(0);
  });

  it('no row when the attacks share no ε, and none without attacked examples; the CLI prints the row', async () => {
    const apart = await evaluateRobustness(masked, ds, { ...options, fgsm: [0.2], pgd: [0.05], square: false });
    expect(apart.worstCase).toBeUndefined();
    const none = await evaluateRobustness(masked, ds, { ...options, adversarialExamples: 0 });
    expect(none.worstCase).toBeUndefined();
    const report = await evaluateRobustness(masked, ds, { ...options, square: false, fgsm: [0.1], pgd: [0.1] });
    expect(report.worstCase!.map((r) => r.attacks)).toEqual([['fgsm', 'pgd']]);
    const lines = consoleLines(() => printRobustness(report, ''));
    expect(lines).toContainEqual(`  worst case per example (FGSM, PGD): ε=0.1 ${(100 * report.worstCase![0]!.accuracy).toFixed(1)}%`);
  });
});
