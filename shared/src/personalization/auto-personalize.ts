import type * as tf from '@tensorflow/tfjs';
import { concatDatasets, subset, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { evaluateModel } from '../learning/evaluate-model.ts';
import { fitLocal, setTrainableLayers } from '../learning/fit-local.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { type AutoCandidate, type PersonalizationSettings } from '../messages/site-report-schemas.ts';
import { readModelWeights, writeModelWeights } from '../model/model-weights.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import type { WeightArrays } from '../weights.ts';
import { perExampleCorrect } from './per-example-correct.ts';
import { selectPersonalCandidate, type CandidateScore } from './select-personal-candidate.ts';
import { foldIndices, stratifiedFolds } from './stratified-folds.ts';
import { validationRobustAccuracy } from './validation-robustness.ts';

/** The interpolation weights α of `α·w_finetuned + (1 − α)·w_global` the 'auto' mode tries (WiSE-FT, Wortsman et al. 2022). */
export const AUTO_INTERPOLATIONS: Record<Extract<AutoCandidate, `mix-${string}`>, number> = { 'mix-0.25': 0.25, 'mix-0.5': 0.5, 'mix-0.75': 0.75 };

/** The weight of the local-only model in the 'local-mix-0.5' candidate (the rest is the global model's). */
export const LOCAL_MIX_ALPHA = 0.5;

/** `α·a + (1 − α)·b`, weight by weight. */
export function interpolateWeights(a: WeightArrays, b: WeightArrays, alpha: number): WeightArrays {
  return a.map((w, i) => {
    const out = new Float32Array(w.length);
    const v = b[i];
    for (let j = 0; j < w.length; j++) out[j] = alpha * w[j] + (1 - alpha) * v[j];
    return out;
  });
}

/**
 * The weights a k-fold selection keeps for `candidate`: with the site's own local-only model (`siteLocal`),
 * a chosen local-only candidate is that model and a chosen 'local-mix-0.5' its mix with the global model
 * (no refit: the site's local-only model is the baseline it is compared with); anything else is the refit's.
 */
export function keptCandidateWeights(candidate: AutoCandidate, global: WeightArrays, siteLocal: WeightArrays | undefined, refit: ReadonlyArray<[AutoCandidate, WeightArrays]>): WeightArrays {
  if (siteLocal && candidate === 'local-only') return siteLocal;
  if (siteLocal && candidate === 'local-mix-0.5') return interpolateWeights(siteLocal, global, LOCAL_MIX_ALPHA);
  const found = refit.find(([c]) => c === candidate);
  if (!found) throw new FedtuneError('internal', `personalisation candidate ${candidate} was not refit`);
  return found[1];
}

/** Whether `a` is strictly better than `b` on validation (accuracy, then loss); ties keep `b`. */
export function betterOnValidation(a: Pick<CandidateScore, 'accuracy' | 'loss'>, b: Pick<CandidateScore, 'accuracy' | 'loss'>): boolean {
  return a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.loss < b.loss);
}

export interface AutoPersonalizationOutcome {
  /** The candidate kept ('global': none beat the global model on validation beyond noise). */
  chosen: AutoCandidate;
  /** Every candidate's validation accuracy and loss, in the order tried (with 'kfold': pooled over the held-out folds). */
  scores: CandidateScore[];
  /** How the candidates were scored: the method, the folds (kfold) and the examples every score is over. */
  selection: { method: 'holdout' | 'kfold'; folds?: number; examples: number };
}

/** The default folds of selection 'kfold' when the instruction names none. */
export const DEFAULT_PERSONALIZATION_FOLDS = 5;

/** How the site trained its local-only baseline (the start and the config): 'kfold' retrains it on each fold's training part. */
export interface LocalOnlyRecipe {
  start: WeightArrays;
  config: TrainConfig;
}

/** The fine-tunes a candidate needs: 'head', 'full' (also every mix), 'ditto', 'local-only'; 'global' none. */
type Fit = 'head' | 'full' | 'ditto' | 'local-only';
const FITS: readonly Fit[] = ['head', 'full', 'ditto', 'local-only'];
const fitOf = (c: AutoCandidate): Fit | undefined => (c === 'global' ? undefined : c.startsWith('mix-') ? 'full' : c === 'local-mix-0.5' ? 'local-only' : (c as Fit));

/**
 * Trains the candidates on `train` starting from `global` and returns their weights in the order of
 * AUTO_CANDIDATES (only the fits in `wanted`, and the candidates they make). With `validation`, every
 * fine-tune keeps its best epoch on validation loss; without, it runs `settings.epochs` epochs (what a
 * refit on all the data can repeat). The local-only candidate: `localOnly.weights` as given, or retrained
 * from `localOnly.recipe` on `train`.
 */
async function fitCandidates(
  model: tf.LayersModel,
  global: WeightArrays,
  train: Dataset,
  validation: Dataset | undefined,
  config: TrainConfig,
  settings: PersonalizationSettings,
  seed: number,
  wanted: ReadonlySet<Fit>,
  localOnly: { weights?: WeightArrays; recipe?: LocalOnlyRecipe },
): Promise<Array<[AutoCandidate, WeightArrays]>> {
  const fits = { ...config, epochs: settings.epochs, seed, ...(validation ? { earlyStopping: { patience: settings.epochs } } : {}) };
  const options = validation ? { validation } : {};
  const out: Array<[AutoCandidate, WeightArrays]> = [['global', global]];
  if (wanted.has('head')) {
    writeModelWeights(model, global);
    await fitLocal(model, train, { ...fits, trainable: 'head' }, undefined, options);
    out.push(['head', readModelWeights(model).arrays]);
  }
  if (wanted.has('full')) {
    writeModelWeights(model, global);
    await fitLocal(model, train, { ...fits, trainable: 'all', seed: seed + 1 }, undefined, options);
    const full = readModelWeights(model).arrays;
    out.push(['full', full]);
    for (const [candidate, alpha] of Object.entries(AUTO_INTERPOLATIONS) as Array<[AutoCandidate, number]>) out.push([candidate, interpolateWeights(full, global, alpha)]);
  }
  if (wanted.has('ditto')) {
    writeModelWeights(model, global);
    await fitLocal(model, train, { ...fits, trainable: 'all', proximalMu: settings.lambda, seed: seed + 2 }, undefined, options);
    out.push(['ditto', readModelWeights(model).arrays]);
  }
  if (wanted.has('local-only')) {
    let local: WeightArrays | undefined = localOnly.weights;
    if (localOnly.recipe) {
      writeModelWeights(model, localOnly.recipe.start);
      await fitLocal(model, train, { ...localOnly.recipe.config, seed: deriveSeed(localOnly.recipe.config.seed, seed) });
      local = readModelWeights(model).arrays;
    }
    if (local) {
      out.push(['local-only', local]);
      out.push(['local-mix-0.5', interpolateWeights(local, global, LOCAL_MIX_ALPHA)]);
    }
  }
  setTrainableLayers(model, 'all');
  return out;
}

/**
 * Personalisation by model selection at the site, on its own data — never its test split. The
 * candidates: the global model itself (the weights `model` holds), the head fine-tuned for
 * `settings.epochs`, every layer fine-tuned for `settings.epochs`, the mixes α·w_full + (1 − α)·w_global
 * (α ∈ AUTO_INTERPOLATIONS), Ditto's proximal fine-tune (λ = settings.lambda) and, when given, the site's
 * local-only model and its half-and-half mix with the global model ('local-mix-0.5', LOCAL_MIX_ALPHA).
 * How they are scored (`settings.selection`):
 * - 'holdout' (the default when absent): trained on the train split, each fine-tune keeping its best epoch
 *   on validation loss, scored on the validation split;
 * - 'kfold': stratified k-fold cross-validation (`settings.folds`, at most one fold per validation example;
 *   'holdout' with a single one) over train ∪ validation — each candidate trained on k − 1 folds for exactly
 *   `settings.epochs` epochs (the local-only one retrained by `extra.localOnlyRecipe` when given), scored on
 *   the held-out fold's validation examples (the global model trained on the train split: scored there, every
 *   candidate started from it would look better than it is), every validation example held out exactly once —
 *   then the chosen candidate is refit the same way on all of train ∪ validation; a chosen local-only
 *   candidate is `extra.localOnly` itself when given (the site's local-only model).
 * With a robustness guard (settings.guard, ε = settings.guardEps) each candidate's accuracy under that
 * attack is measured on the same held-out examples. The model ends holding the candidate
 * `selectPersonalCandidate` picks with `settings.selectionMargin` standard errors (absent: 0).
 * Needs a non-empty validation split. Leaks no tensors.
 */
export async function autoPersonalize(
  model: tf.LayersModel,
  data: { train: Dataset; validation: Dataset },
  config: TrainConfig,
  settings: PersonalizationSettings,
  extra: { localOnly?: WeightArrays; localOnlyRecipe?: LocalOnlyRecipe } = {},
): Promise<AutoPersonalizationOutcome> {
  if (data.validation.y.length === 0) throw new FedtuneError('data', 'personalization mode "auto" needs a validation split at the site');
  const global = readModelWeights(model).arrays;
  const guard = settings.guard ?? 'off';
  const guardSeed = deriveSeed(config.seed, 'personalization-guard');
  const margin = settings.selectionMargin ?? 0;
  const allFits = new Set<Fit>(FITS);
  const measure = async (held: Dataset) => {
    const m = evaluateModel(model, held);
    const robustAccuracy = await validationRobustAccuracy(model, held, guard, settings.guardEps ?? 0, guardSeed);
    return { ...m, correct: perExampleCorrect(model, held), robustAccuracy };
  };

  if ((settings.selection ?? 'holdout') === 'holdout') {
    const candidates = await fitCandidates(model, global, data.train, data.validation, config, settings, config.seed, allFits, { weights: extra.localOnly });
    const scores: CandidateScore[] = [];
    for (const [candidate, arrays] of candidates) {
      writeModelWeights(model, arrays);
      const m = await measure(data.validation);
      scores.push({ candidate, accuracy: m.accuracy, loss: m.loss, ...(m.robustAccuracy !== undefined ? { robustAccuracy: m.robustAccuracy } : {}), correct: m.correct });
    }
    const best = selectPersonalCandidate(scores, margin);
    writeModelWeights(model, candidates.find(([c]) => c === best.candidate)![1]);
    return { chosen: best.candidate, scores, selection: { method: 'holdout', examples: data.validation.y.length } };
  }

  const pool = concatDatasets([data.train, data.validation]);
  const nTrain = data.train.y.length;
  const nValidation = data.validation.y.length;
  // Scored on the validation split's examples only: the global model trained on the train split, so every
  // candidate started from it (head, full, the mixes, Ditto, the global model itself) would be scored on
  // examples it has already fitted — optimistically, against a local-only model that has not (measured on
  // the built-in task: a cross-validated 87 % for a global model that scored 73.6 % on the test split).
  const k = Math.min(settings.folds ?? DEFAULT_PERSONALIZATION_FOLDS, nValidation);
  if (k < 2) return autoPersonalize(model, data, config, { ...settings, selection: 'holdout' }, extra);
  // Train and validation examples are dealt apart (a class of one split is its own stratum), so every fold
  // holds its share of the validation split.
  let classes = 1;
  for (let i = 0; i < pool.y.length; i++) classes = Math.max(classes, pool.y[i] + 1);
  const strata = Int32Array.from(pool.y, (label, i) => (i < nTrain ? label : classes + label));
  const folds = stratifiedFolds(strata, k, deriveSeed(config.seed, 'personalization-folds'));
  const localOnly = { weights: extra.localOnly, recipe: extra.localOnlyRecipe };
  const pooled = new Map<AutoCandidate, { correct: Uint8Array; lossSum: number; robustHits: number; robust: boolean }>();
  for (let f = 0; f < k; f++) {
    const heldIndices = foldIndices(folds, f, true).filter((i) => i >= nTrain);
    const held = subset(pool, heldIndices);
    // Without a recipe the given local-only model saw part of every fold: it cannot be cross-validated.
    const wanted = localOnly.recipe ? allFits : new Set<Fit>(FITS.filter((x) => x !== 'local-only'));
    const candidates = await fitCandidates(model, global, subset(pool, foldIndices(folds, f, false)), undefined, config, settings, deriveSeed(config.seed, 'personalization-fold', f), wanted, localOnly);
    for (const [candidate, arrays] of candidates) {
      writeModelWeights(model, arrays);
      const m = await measure(held);
      const acc = pooled.get(candidate) ?? { correct: new Uint8Array(nValidation), lossSum: 0, robustHits: 0, robust: m.robustAccuracy !== undefined };
      heldIndices.forEach((i, j) => (acc.correct[i - nTrain] = m.correct[j]));
      acc.lossSum += m.loss * held.y.length;
      acc.robustHits += Math.round((m.robustAccuracy ?? 0) * held.y.length);
      pooled.set(candidate, acc);
    }
  }
  const n = nValidation;
  const scores: CandidateScore[] = [...pooled].map(([candidate, acc]) => ({
    candidate,
    accuracy: acc.correct.reduce((a, b) => a + b, 0) / n,
    loss: acc.lossSum / n,
    ...(acc.robust ? { robustAccuracy: acc.robustHits / n } : {}),
    correct: acc.correct,
  }));
  const best = selectPersonalCandidate(scores, margin);
  const fit = fitOf(best.candidate);
  // A chosen local-only candidate is the site's local-only model itself when it has one (trained on the train
  // split, keeping its best epoch on validation): no second local-only model to differ from the first.
  // The same holds for the mix of the local-only and global models: the site's local-only model mixed with the global one.
  const refit = await fitCandidates(model, global, pool, undefined, config, settings, config.seed, new Set(fit && !(fit === 'local-only' && localOnly.weights) ? [fit] : []), localOnly);
  writeModelWeights(model, keptCandidateWeights(best.candidate, global, localOnly.weights, refit));
  return { chosen: best.candidate, scores, selection: { method: 'kfold', folds: k, examples: n } };
}
