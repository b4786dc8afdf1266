import * as tf from '@tensorflow/tfjs';
import { featureSize, subset, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { modelInputShape } from '../learning/dataset-tensors.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import { applyCorruption, featureStats, type InputKind } from './apply-corruption.ts';
import { perturbationPlan, SAMPLE_DEFAULTS, type PerturbationPlan } from './perturbation-plan.ts';
import { ATTACK_ROW_EVALUATOR, ATTACK_ROW_HELPER, claimAttackRow, type AttackRowSharing, type HelperAttackRows, type IterativeAttackRowReport } from './shared-attack-rows.ts';
import type { PerturbedInputs } from './perturbed-inputs.ts';
import type { Attack } from './attacks/attack.ts';
import { ATTACK_LOSSES, type AttackLoss } from './attacks/attack-loss.ts';
import { fgsm } from './attacks/fgsm.ts';
import { pgd } from './attacks/pgd.ts';
import { pgdL2 } from './attacks/pgd-l2.ts';
import { squareAttack } from './attacks/square.ts';
import { worstCaseRows, type AttackOutcome } from './worst-case-rows.ts';
import { confusionMatrix, eceFromBins, macroF1, perClassMetrics, predictions, reliabilityBins, worstClass } from './metrics.ts';
import { ROBUSTNESS_SCHEMA_VERSION, type CleanMetrics, type RobustnessReport } from './report-schema.ts';
import { robustnessWarnings, type SelfCheckOptions } from './self-checks.ts';
import { epsScale, type EpsScale, type EpsUnits } from './eps-scale.ts';
import { calibrationReport, type CalibrationSource } from './calibration/calibration-report.ts';
import { modelLogits } from './calibration/model-logits.ts';
import { saturatedShareOf } from './saturated-share.ts';
import { certifySmoothed } from './certification/randomized-smoothing.ts';
import type { SmoothingConfigInput } from './certification/smoothing-config.ts';
import { evaluateTextAttack, type TextAttackOptions } from './text/evaluate-text-attack.ts';
import { predictAll } from '../learning/predict-all.ts';
import { nextTurn } from '../client/yield-to-event-loop.ts';

export { DEFAULT_NOISE_SIGMAS } from './perturbation-plan.ts';
export const DEFAULT_EPSILONS = [0.05, 0.1, 0.2, 0.3] as const;
/** PGD-L2 radii when `pgdL2: true` (on MNIST-scale images, Madry et al.'s L2 budget is about 2). */
export const DEFAULT_L2_EPSILONS = [0.5, 1, 2] as const;

/**
 * What `evaluateRobustness` runs and on how many examples. Every part is on by default; `false` turns a
 * part off, a list chooses its σ / corruptions / ε.
 */
export interface RobustnessOptions {
  /** Examples evaluated (a seeded sample of the data; all if fewer). Default 500. */
  examples?: number;
  /** The first this-many of those are attacked. Default 200. */
  adversarialExamples?: number;
  batchSize?: number;
  /** Seeds the sample, the noise, the corruptions and PGD's random start. Default 0. */
  seed?: number;
  /** Gaussian noise σ list, or false. Default 0.1, 0.2, 0.3, 0.5. */
  noise?: boolean | readonly number[];
  /** Corruption names, or false. Default: all 15 MNIST-C corruptions for images, the 4 tabular ones otherwise. */
  corruptions?: boolean | readonly string[];
  /** FGSM ε list, or false. Default 0.05, 0.1, 0.2, 0.3. */
  fgsm?: boolean | readonly number[];
  /** PGD ε list, or false. Default 0.05, 0.1, 0.2, 0.3. */
  pgd?: boolean | readonly number[];
  /**
   * PGD in the L2 norm: a list of L2 radii (in epsUnits), true for DEFAULT_L2_EPSILONS, or false (default).
   * Its steps are `pgdSteps` of 2.5·ε/pgdSteps each.
   */
  pgdL2?: boolean | readonly number[];
  /**
   * The task's headline ε, in absolute input units: added to the FGSM and PGD lists (when they run) and
   * reported as `headlineEps` in `epsUnits` (headlineEps / epsScale when the units are relative).
   */
  headlineEps?: number;
  /** PGD iterations (default 40) and step size (default 0.01). */
  pgdSteps?: number;
  pgdStepSize?: number;
  /**
   * The losses FGSM, PGD and PGD-L2 each ascend, in order, each attacking what the ones before it left correct:
   * an example is robust only if no loss's attack fools it (docs/robustness.md#two-losses). Default
   * ['ce', 'margin']: the cross-entropy saturates on confident models, the margin does not. ['ce'] alone is
   * the textbook attack.
   */
  attackLosses?: readonly AttackLoss[];
  /**
   * The Square Attack (attacks/square.ts: L∞, black-box, model outputs only): an ε list, true for the PGD list, or
   * false (default). Runs on the attacked examples with `squareQueries` queries each (default 1000), the first
   * squares covering `squarePInit` of the pixels (default 0.8). Reported as `square` rows; a Square row below the
   * PGD row of the same ε by more than noise is flagged as gradient masking.
   */
  square?: boolean | readonly number[];
  squareQueries?: number;
  squarePInit?: number;
  /** Valid input range (clipping of noise and attacks). Default [0, 1] for images, the data's min/max for tabular. */
  inputRange?: [number, number];
  /**
   * Units of FGSM/PGD ε and of the PGD step (eps-scale.ts): 'absolute' input units (pixels on [0, 1]);
   * 'feature-std': feature j moves by at most ε × its standard deviation on the evaluated data, so ε means the
   * same on features of any scale; 'data-std': ε × the standard deviation of all the evaluated input values.
   * Default: absolute for images, feature-std for tabular data. Reported as `epsUnits`, with `epsScale` and
   * each row's `epsAbsolute`.
   */
  epsUnits?: EpsUnits;
  inputKind?: InputKind | 'auto';
  /** [width, height] of flat image inputs when not square. */
  imageSize?: [number, number];
  /** Confidence bins of the ECE and the reliability diagram. Default 15. */
  bins?: number;
  selfChecks?: SelfCheckOptions;
  /** A temperature to report calibration with (ECE/NLL before and after dividing the logits by it); none: no calibration part. */
  calibration?: { temperature: number; source: CalibrationSource; fittedOn: number };
  /** Randomized smoothing (certified L2 accuracy) of the model on the same sample; absent: not run. */
  certify?: SmoothingConfigInput;
  /** Text models (token-id features, first layer an Embedding): the word-substitution attack at `budgets` on the first `adversarialExamples`; absent: not run. */
  textAttack?: TextAttackOptions & { budgets: readonly number[] };
}

/** The defaults: quick enough to run every round of `npm start`. */
export const ROBUSTNESS_DEFAULTS = {
  examples: SAMPLE_DEFAULTS.examples,
  adversarialExamples: 200,
  batchSize: 250,
  seed: SAMPLE_DEFAULTS.seed,
  pgdSteps: 40,
  pgdStepSize: 0.01,
  attackLosses: ATTACK_LOSSES,
  squareQueries: 1000,
  /**
   * Measured on the robust preset's saved model (built-in task, 1000 holdout digits, ε 0.06, 1000 queries): 0.8
   * left 70.5 % correct, 0.3 left 71.5 % (same digits): the larger first squares are the stronger start here.
   */
  squarePInit: 0.8,
  bins: 15,
} as const;


function listOption<T>(value: boolean | readonly T[] | undefined, defaults: readonly T[]): T[] {
  if (value === false) return [];
  if (value === undefined || value === true) return [...defaults];
  return [...value];
}

/**
 * The ε an L∞ attack (FGSM, PGD, Square) runs at: its list (`true` or undefined: DEFAULT_EPSILONS; `false`:
 * none) with the headline ε added in order when it is not there (a list left empty stays empty). What
 * `fedtune evaluate --help` shows as the defaults comes from here too.
 */
export function attackEpsilons(list: boolean | readonly number[] | undefined, headline: number | undefined): number[] {
  const eps = listOption(list, DEFAULT_EPSILONS);
  return headline === undefined || eps.length === 0 || eps.includes(headline) ? eps : [...eps, headline].sort((a, b) => a - b);
}

/** Correct predictions of `model` on `ds`, in batches. */
function countCorrect(model: tf.LayersModel, ds: Dataset, shape: number[], batchSize: number): number {
  const f = featureSize(ds);
  let correct = 0;
  for (let start = 0; start < ds.y.length; start += batchSize) {
    const end = Math.min(ds.y.length, start + batchSize);
    correct += tf.tidy(() => {
      const x = tf.tensor(ds.x.subarray(start * f, end * f), [end - start, ...shape], 'float32');
      const logits = predictAll(model, x);
      return tf.equal(tf.argMax(logits, 1), tf.tensor1d(ds.y.subarray(start, end), 'int32')).sum().dataSync()[0];
    });
  }
  return correct;
}

/** Clean metrics: probabilities, loss, confusion, per-class, ECE and the reliability diagram. */
export function cleanMetrics(model: tf.LayersModel, ds: Dataset, options: { batchSize?: number; bins?: number } = {}): CleanMetrics {
  const n = ds.y.length;
  const k = ds.numClasses;
  const batchSize = options.batchSize ?? ROBUSTNESS_DEFAULTS.batchSize;
  const shape = modelInputShape(model);
  const f = featureSize(ds);
  const probs = new Float32Array(n * k);
  let lossSum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const [p, loss] = tf.tidy(() => {
      const x = tf.tensor(ds.x.subarray(start * f, end * f), [end - start, ...shape], 'float32');
      const logits = predictAll(model, x) as tf.Tensor2D;
      if (logits.shape[1] !== k) throw new FedtuneError('shape_mismatch', `model outputs ${logits.shape[1]} classes, data has ${k}`);
      const onehot = tf.cast(tf.oneHot(tf.tensor1d(ds.y.subarray(start, end), 'int32'), k), 'float32');
      const l = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM);
      return [tf.softmax(logits).dataSync() as Float32Array, l.dataSync()[0]] as const;
    });
    probs.set(p, start * k);
    lossSum += loss;
  }
  const { predicted } = predictions(probs, n);
  const confusion = confusionMatrix(predicted, ds.y, k);
  const perClass = perClassMetrics(confusion);
  const reliability = reliabilityBins(probs, ds.y, options.bins ?? ROBUSTNESS_DEFAULTS.bins);
  let correct = 0;
  for (let i = 0; i < n; i++) if (predicted[i] === ds.y[i]) correct++;
  return {
    accuracy: n ? correct / n : 0,
    loss: n ? lossSum / n : 0,
    macroF1: macroF1(perClass, confusion),
    ece: eceFromBins(reliability, n),
    perClass,
    confusion,
    worstClass: worstClass(perClass),
    reliability,
  };
}

type AdversarialParams = { eps: number; steps: number; stepSize: number; seed: number; clipMin: number; clipMax: number; batchSize: number; scale?: Float32Array };

/** Robust accuracy of `model` on `ds` under `attack` at `eps` (on the cross-entropy), in batches; yields to the event loop between batches. */
export async function adversarialAccuracy(model: tf.LayersModel, ds: Dataset, attack: Attack, params: AdversarialParams): Promise<number> {
  const stages = await adversarialAccuracyByLoss(model, ds, attack, params, ['ce']);
  return stages[0];
}

/**
 * Robust accuracy under `attack` run once per loss in `losses`, each on the examples every loss before it
 * left correctly classified (an example counts as robust only if no loss's attack fools it: the per-example
 * worst case, as AutoAttack combines its attacks). Returns the accuracy after each stage, so the last is the
 * worst case and the first that of `losses[0]` alone. In batches; yields to the event loop between batches.
 */
export async function adversarialAccuracyByLoss(model: tf.LayersModel, ds: Dataset, attack: Attack, params: AdversarialParams, losses: readonly AttackLoss[]): Promise<number[]> {
  return (await adversarialOutcomesByLoss(model, ds, attack, params, losses)).stages;
}

/** adversarialAccuracyByLoss's stages, and per example whether it withstood every loss's attack (1) or not (0). */
export async function adversarialOutcomesByLoss(model: tf.LayersModel, ds: Dataset, attack: Attack, params: AdversarialParams, losses: readonly AttackLoss[]): Promise<{ stages: number[]; robust: Uint8Array }> {
  const n = ds.y.length;
  if (losses.length === 0) throw new FedtuneError('config', 'an attack needs at least one loss');
  const robust = new Uint8Array(n);
  if (n === 0) return { stages: losses.map(() => 0), robust };
  const shape = modelInputShape(model);
  const f = featureSize(ds);
  const correct = losses.map(() => 0);
  // Stryker disable next-line EqualityOperator: equivalent: with <= a batch of 0 rows when n is a multiple of the batch size, whose loss loop never runs (nothing standing).
  for (let start = 0; start < n; start += params.batchSize) {
    const end = Math.min(n, start + params.batchSize);
    // The examples still standing (indices into the batch), shrinking with every loss.
    let standing = Int32Array.from({ length: end - start }, (_, i) => i);
    const batch = tf.tensor(ds.x.subarray(start * f, end * f), [end - start, ...shape], 'float32');
    try {
      for (let k = 0; k < losses.length && standing.length > 0; k++) {
        const rows = standing;
        // Stryker disable next-line ConditionalExpression: equivalent: at k = 0 `rows` is every row in order, so the gather gives the same tensor as the clone.
        const x = k === 0 ? batch.clone() : tf.gather(batch, rows);
        const labels = tf.tensor1d(Int32Array.from(rows, (i) => ds.y[start + i]), 'int32');
        const onehot = tf.tidy(() => tf.cast(tf.oneHot(labels, ds.numClasses), 'float32'));
        try {
          // The first loss keeps the seed of a single-loss run (its numbers are unchanged); each further one has its own.
          const seed = k === 0 ? deriveSeed(params.seed, attack.name, params.eps, start) : deriveSeed(params.seed, attack.name, params.eps, start, losses[k]);
          const adv = attack.run(model, x, onehot, { ...params, seed, loss: losses[k] });
          const hit = tf.tidy(() => tf.equal(tf.argMax(predictAll(model, adv), 1), labels).dataSync() as Uint8Array);
          adv.dispose();
          standing = rows.filter((_, j) => hit[j] === 1);
        } finally {
          tf.dispose([x, labels, onehot]);
        }
        correct[k] += standing.length;
      }
      for (const i of standing) robust[start + i] = 1;
    } finally {
      batch.dispose();
    }
    await nextTurn();
  }
  // A stage that never ran in a batch (nothing left standing) counts that batch's zero survivors: cumulative counts.
  return { stages: correct.map((c) => c / n), robust };
}

/** The losses the attacks ascend, checked: each of ATTACK_LOSSES at most once, at least one. */
function attackLossesOf(options: RobustnessOptions): AttackLoss[] {
  const losses = [...(options.attackLosses ?? ROBUSTNESS_DEFAULTS.attackLosses)];
  if (losses.length === 0 || new Set(losses).size !== losses.length) throw new FedtuneError('config', `attackLosses must name each of ${ATTACK_LOSSES.join(', ')} at most once, and at least one (got ${JSON.stringify(losses).slice(0, 80)})`);
  return losses;
}

/** What every attack row of an evaluation needs: computed from the plan and options alone, so a helper thread gets the same. */
interface AttackSetup {
  /** Attacked examples: the first m of the sample. */
  m: number;
  advData: Dataset;
  attacked: boolean;
  losses: AttackLoss[];
  epsUnits: EpsUnits;
  unit: EpsScale;
  /** ε in the attacks' own units per reported ε (data-std: the scalar; else 1). */
  toAttack: number;
  attackParams: AdversarialParams;
  headline: number | undefined;
  fgsmEps: number[];
  pgdEps: number[];
  pgdL2Eps: number[];
  squareEps: number[];
  steps: number;
  stepSize: number;
}

function attackSetup(plan: PerturbationPlan, options: RobustnessOptions, losses: AttackLoss[], batchSize: number): AttackSetup {
  const { seed, ds, geometry, stats, clipMin, clipMax } = plan;
  const m = Math.min(ds.y.length, options.adversarialExamples ?? ROBUSTNESS_DEFAULTS.adversarialExamples);
  const advData = subset(ds, Array.from({ length: m }, (_, i) => i));
  const epsUnits: EpsUnits = options.epsUnits ?? (geometry.kind === 'tabular' ? 'feature-std' : 'absolute');
  const unit: EpsScale = epsUnits === 'feature-std' ? { units: epsUnits, value: 0, perFeature: (stats ?? featureStats(ds)).std } : epsScale(ds, epsUnits);
  if (unit.perFeature) unit.value = unit.perFeature.length ? unit.perFeature.reduce((a, b) => a + b, 0) / unit.perFeature.length : 0;
  const scale = unit.perFeature;
  // data-std is one scalar: the attacks run in absolute units, ε × the scalar.
  const toAttack = epsUnits === 'data-std' ? unit.value : 1;
  const attackParams: AdversarialParams = { eps: 0, steps: 1, stepSize: 0, seed, clipMin, clipMax, batchSize, ...(scale ? { scale } : {}) };
  // The headline ε is absolute; in relative units it is attacked (and reported) as headlineEps / epsScale.
  const headline = options.headlineEps === undefined ? undefined : epsUnits === 'absolute' ? options.headlineEps : options.headlineEps / unit.value;
  const fgsmEps = attackEpsilons(options.fgsm, headline);
  const pgdEps = attackEpsilons(options.pgd, headline);
  const pgdL2Eps = listOption(options.pgdL2 ?? false, DEFAULT_L2_EPSILONS);
  // `square: true` takes the PGD list (with the headline), else its own list (with the headline added).
  const squareEps = options.square === true ? pgdEps : attackEpsilons(options.square ?? false, headline);
  const attacked = m > 0 && (fgsmEps.length > 0 || pgdEps.length > 0 || pgdL2Eps.length > 0 || squareEps.length > 0);
  const steps = options.pgdSteps ?? ROBUSTNESS_DEFAULTS.pgdSteps;
  // The default PGD step is absolute (0.01 of [0, 1]): in data-std units it is 0.01 / the pixel std, so the same
  // ball gets the same attack whatever its units. Before (until 2026-12-07) it was 0.01 of the std (0.0022 absolute on
  // the scanners): a weaker attack, reported as "PGD (40×0.01)". An explicit step is in ε's units, as ε is.
  const stepSize = options.pgdStepSize ?? (epsUnits === 'data-std' && unit.value > 0 ? ROBUSTNESS_DEFAULTS.pgdStepSize / unit.value : ROBUSTNESS_DEFAULTS.pgdStepSize);
  return { m, advData, attacked, losses, epsUnits, unit, toAttack, attackParams, headline, fgsmEps, pgdEps, pgdL2Eps, squareEps, steps, stepSize };
}

/** A row's accuracy (the worst case over the losses) and, with more than one loss, each stage's; and which attacked examples withstood it. */
async function attackRowOf(model: tf.LayersModel, setup: AttackSetup, attack: Attack, params: AdversarialParams): Promise<{ row: { accuracy: number; byLoss?: Array<{ loss: AttackLoss; accuracy: number }> }; robust: Uint8Array }> {
  const { losses } = setup;
  const { stages, robust } = await adversarialOutcomesByLoss(model, setup.advData, attack, params, losses);
  return { row: { accuracy: stages[stages.length - 1], ...(losses.length > 1 ? { byLoss: losses.map((loss, k) => ({ loss, accuracy: stages[k] })) } : {}) }, robust };
}

type IterativeAttackJob = { part: 'pgd' | 'pgdL2'; eps: number };
type IterativeAttackRow = IterativeAttackRowReport;
/** A computed PGD or PGD-L2 row and, per attacked example, whether it withstood the attack. */
type IterativeAttackResult = { row: IterativeAttackRow; robust: Uint8Array };

/** The PGD rows, then the PGD-L2 rows, in the report's order (none when no example is attacked). */
function iterativeAttackJobs(setup: AttackSetup): IterativeAttackJob[] {
  if (setup.m === 0) return [];
  return [...setup.pgdEps.map((eps) => ({ part: 'pgd' as const, eps })), ...setup.pgdL2Eps.map((eps) => ({ part: 'pgdL2' as const, eps }))];
}

/** One PGD (L∞) or PGD-L2 row: the same numbers whichever thread runs it (its seeds derive from the options, ε and batch). */
async function iterativeAttackRow(model: tf.LayersModel, setup: AttackSetup, job: IterativeAttackJob): Promise<IterativeAttackResult> {
  const { steps, toAttack, unit, attackParams } = setup;
  const { eps } = job;
  // PGD-L2 takes steps of 2.5·ε/steps (Madry et al.); PGD (L∞) the configured step.
  const stepSize = job.part === 'pgd' ? setup.stepSize : (2.5 * eps) / steps;
  const attack = job.part === 'pgd' ? pgd : pgdL2;
  const { row, robust } = await attackRowOf(model, setup, attack, { ...attackParams, eps: eps * toAttack, steps, stepSize: stepSize * toAttack });
  return { row: { eps, epsAbsolute: eps * unit.value, steps, stepSize, ...row }, robust };
}

/**
 * The helper's side of a shared robustness evaluation: claims the PGD and PGD-L2 rows from the last one down
 * (the evaluator claims from the first one up, after its other parts) and computes each it wins, until the two
 * meet. Same model weights, data and options as the evaluator's evaluateRobustness: the same rows.
 */
export async function evaluateAttackRowsFromEnd(model: tf.LayersModel, data: Dataset, options: RobustnessOptions, claims: Int32Array): Promise<HelperAttackRows> {
  const started = Date.now();
  const setup = attackSetup(perturbationPlan(data, options), options, attackLossesOf(options), options.batchSize ?? ROBUSTNESS_DEFAULTS.batchSize);
  const jobs = iterativeAttackJobs(setup);
  const rows: HelperAttackRows['rows'] = [];
  for (let i = Math.min(jobs.length, claims.length) - 1; i >= 0; i--) {
    // The evaluator claims in order from the first row: once it holds row i, it holds every row before it.
    if (!claimAttackRow(claims, i, ATTACK_ROW_HELPER)) break;
    rows.push({ index: i, ...(await iterativeAttackRow(model, setup, jobs[i])) });
  }
  return { rows, ms: Date.now() - started };
}

/**
 * Evaluates `model` (which outputs logits) on `data`: clean metrics, Gaussian noise, common corruptions,
 * FGSM and PGD, plus self-checks. Isomorphic (no Node imports); all tensor work is in `tidy` or disposed,
 * so it leaks no tensors. The model's weights are not changed.
 */
export async function evaluateRobustness(
  model: tf.LayersModel,
  data: Dataset,
  options: RobustnessOptions = {},
  context: {
    /** Noisy and corrupted copies of `data`'s sample made earlier (or to keep for later): the same numbers, without remaking them. */
    inputs?: PerturbedInputs;
    /** A helper that computes some of the PGD and PGD-L2 rows meanwhile (evaluateAttackRowsFromEnd on the same model, data and options). */
    sharing?: AttackRowSharing;
  } = {},
): Promise<RobustnessReport> {
  // Checked before any work: a bad list costs nothing.
  const losses = attackLossesOf(options);
  // A helper's failure is handled (its rows are computed here): never an unhandled rejection meanwhile.
  const helperRows = context.sharing?.helperRows.catch(() => undefined);
  const started = Date.now();
  const batchSize = options.batchSize ?? ROBUSTNESS_DEFAULTS.batchSize;
  // The sample, its geometry and range, and what is perturbed: model-independent (perturbation-plan.ts).
  const plan = perturbationPlan(data, options);
  const { seed, ds, geometry, stats, clipMin, clipMax } = plan;
  const n = ds.y.length;
  const shape = modelInputShape(model);
  const accuracy = (d: Dataset) => (d.y.length ? countCorrect(model, d, shape, batchSize) / d.y.length : 0);
  const timings: { clean: number; noise: number; corruptions: number; fgsm: number; pgd: number; square?: number } = { clean: 0, noise: 0, corruptions: 0, fgsm: 0, pgd: 0 };
  const timed = async <T>(part: 'clean' | 'noise' | 'corruptions' | 'fgsm' | 'pgd', fn: () => T | Promise<T>): Promise<T> => {
    const t = Date.now();
    const result = await fn();
    timings[part] += Date.now() - t;
    return result;
  };

  const clean = await timed('clean', () => cleanMetrics(model, ds, { batchSize, bins: options.bins }));
  await nextTurn();

  const noise: RobustnessReport['noise'] = [];
  const corruptions: RobustnessReport['corruptions'] = [];
  for (const p of plan.perturbations) {
    const perturbed = () => (context.inputs ? context.inputs.get(data, plan, p) : applyCorruption(ds, p.corruption, { geometry, seed, stats }));
    if (p.part === 'noise') noise.push({ sigma: p.sigma!, accuracy: await timed('noise', () => accuracy(perturbed())) });
    else corruptions.push({ name: p.corruption.name, severity: p.corruption.severity, accuracy: await timed('corruptions', () => accuracy(perturbed())) });
    await nextTurn();
  }
  const corruptionMean = corruptions.length ? corruptions.reduce((s, c) => s + c.accuracy, 0) / corruptions.length : null;
  const worst = corruptions.length ? corruptions.reduce((a, b) => (b.accuracy < a.accuracy ? b : a)) : null;

  const attacks = attackSetup(plan, options, losses, batchSize);
  const { m: attackedExamples, advData: attackedData, unit, toAttack, attackParams, headline, fgsmEps, pgdEps, epsUnits } = attacks;
  const attacked = attacks.attacked;
  const adversarialCleanAccuracy = attacked ? accuracy(attackedData) : null;
  const saturatedShare = attacked ? saturatedShareOf(model, attackedData, batchSize) : undefined;
  // ε = 0 through the attack path must give the clean accuracy of the same examples.
  const eps0Accuracy = attacked ? await adversarialAccuracy(model, attackedData, fgsm, { ...attackParams, eps: 0 }) : null;
  // Per attacked example and L∞ attack row, whether it withstood the attack: combined into the worst case below.
  const outcomes: AttackOutcome[] = [];
  const fgsmRows: RobustnessReport['fgsm'] = [];
  for (const eps of attackedExamples > 0 ? fgsmEps : []) {
    const a = eps * toAttack;
    const { row, robust } = await timed('fgsm', () => attackRowOf(model, attacks, fgsm, { ...attackParams, eps: a, stepSize: a }));
    fgsmRows.push({ eps, epsAbsolute: eps * unit.value, ...row });
    outcomes.push({ attack: 'fgsm', eps, epsAbsolute: eps * unit.value, robust });
  }
  // The PGD and PGD-L2 rows, the evaluation's bulk: with a helper (context.sharing), both take rows, this
  // evaluation from the first, the helper from the last (shared-attack-rows.ts); the numbers are the same.
  const jobs = iterativeAttackJobs(attacks);
  const rows: Array<IterativeAttackResult | undefined> = jobs.map(() => undefined);
  const sharing = context.sharing;
  for (let i = 0; i < jobs.length; i++) {
    if (sharing && !claimAttackRow(sharing.claims, i, ATTACK_ROW_EVALUATOR)) continue;
    rows[i] = await timed('pgd', () => iterativeAttackRow(model, attacks, jobs[i]));
  }
  if (rows.some((r) => r === undefined)) {
    const helper = await helperRows;
    if (helper) timings.pgd += helper.ms;
    for (let i = 0; i < jobs.length; i++) {
      if (rows[i]) continue;
      // A row the helper claimed but did not deliver (it failed) is computed here: the report is whole either way.
      rows[i] = helper?.rows.find((r) => r.index === i) ?? (await timed('pgd', () => iterativeAttackRow(model, attacks, jobs[i])));
    }
  }
  const pgdRows: RobustnessReport['pgd'] = [];
  const pgdL2Rows: NonNullable<RobustnessReport['pgdL2']> = [];
  jobs.forEach((job, i) => {
    const { row, robust } = rows[i]!;
    if (job.part === 'pgdL2') return void pgdL2Rows.push(row);
    pgdRows.push(row);
    outcomes.push({ attack: 'pgd', eps: row.eps, epsAbsolute: row.epsAbsolute ?? row.eps * unit.value, robust });
  });
  // The black-box check: Square uses the model's outputs only (attacks/square.ts).
  const squareRows: NonNullable<RobustnessReport['square']> = [];
  const squareQueries = options.squareQueries ?? ROBUSTNESS_DEFAULTS.squareQueries;
  const squarePInit = options.squarePInit ?? ROBUSTNESS_DEFAULTS.squarePInit;
  for (const eps of attackedExamples > 0 ? attacks.squareEps : []) {
    const t = Date.now();
    const r = await squareAttack(model, attackedData, {
      eps: eps * toAttack,
      queries: squareQueries,
      pInit: squarePInit,
      seed: deriveSeed(seed, 'square', eps),
      clipMin,
      clipMax,
      height: geometry.height,
      width: geometry.width,
      ...(attackParams.scale ? { scale: attackParams.scale } : {}),
      batchSize,
    });
    squareRows.push({ eps, epsAbsolute: eps * unit.value, queries: squareQueries, pInit: squarePInit, meanQueries: r.queries.reduce((s, q) => s + q, 0) / attackedExamples, accuracy: r.robust.reduce((s, v) => s + v, 0) / attackedExamples });
    outcomes.push({ attack: 'square', eps, epsAbsolute: eps * unit.value, robust: r.robust });
    timings.square = (timings.square ?? 0) + (Date.now() - t);
    await nextTurn();
  }
  const worstCase = worstCaseRows(outcomes);

  const calibration = options.calibration ? calibrationReport(modelLogits(model, ds, batchSize), ds.y, options.calibration, options.bins ?? ROBUSTNESS_DEFAULTS.bins) : undefined;
  const certification = options.certify ? await certifySmoothed(model, ds, { seed, ...options.certify }) : undefined;
  const textAttacks = options.textAttack ? evaluateTextAttack(model, attackedData, options.textAttack.budgets, options.textAttack) : undefined;

  const partial = { fgsm: fgsmRows, pgd: pgdRows, pgdL2: pgdL2Rows, square: squareRows, adversarialCleanAccuracy, saturatedShare };
  return {
    schemaVersion: ROBUSTNESS_SCHEMA_VERSION,
    examples: n,
    adversarialExamples: attacked ? attackedExamples : 0,
    inputKind: geometry.kind,
    epsUnits,
    epsScale: unit.value,
    ...(headline !== undefined && (fgsmEps.length > 0 || pgdEps.length > 0) ? { headlineEps: headline } : {}),
    ...(attacked ? { attackLosses: losses } : {}),
    seed,
    clean,
    noise,
    corruptions,
    corruptionMean,
    worstCorruption: worst ? { name: worst.name, accuracy: worst.accuracy } : null,
    adversarialCleanAccuracy,
    ...(saturatedShare !== undefined ? { saturatedShare } : {}),
    fgsm: fgsmRows,
    pgd: pgdRows,
    ...(pgdL2Rows.length ? { pgdL2: pgdL2Rows } : {}),
    ...(squareRows.length ? { square: squareRows } : {}),
    ...(worstCase.length ? { worstCase } : {}),
    warnings: robustnessWarnings(partial, eps0Accuracy, options.selfChecks),
    timings,
    durationMs: Date.now() - started,
    ...(calibration ? { calibration } : {}),
    ...(certification ? { certification } : {}),
    ...(textAttacks ? { textAttacks } : {}),
  };
}
