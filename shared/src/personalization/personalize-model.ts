import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { evaluateModel } from '../learning/evaluate-model.ts';
import { fitLocal, setTrainableLayers, type FitMetrics } from '../learning/fit-local.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import type { AutoCandidate, PersonalizationSettings } from '../messages/site-report-schemas.ts';
import { modelVariables, readModelWeights, writeModelWeights } from '../model/model-weights.ts';
import type { WeightArrays } from '../weights.ts';
import { autoPersonalize, type AutoPersonalizationOutcome, type LocalOnlyRecipe } from './auto-personalize.ts';
import type { CandidateScore } from './select-personal-candidate.ts';

/** Whether a layer is a BatchNormalization layer (its gamma/beta and moving statistics stay local under FedBN). */
export function isBatchNormLayer(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'BatchNormalization';
}

/** Positions (in the model's weight order) of its BatchNorm layers' weights: γ, β, moving mean and variance. */
export function batchNormWeightIndices(model: tf.LayersModel): number[] {
  const bn = new Set(model.layers.filter(isBatchNormLayer).flatMap((l) => l.weights));
  return modelVariables(model).flatMap((v, i) => (bn.has(v) ? [i] : []));
}

/** `global` with the weights at the keys of `local` replaced by the site's own (FedBN: local BatchNorm). */
export function withLocalWeights(global: WeightArrays, local: ReadonlyMap<number, Float32Array> | undefined): WeightArrays {
  if (!local || local.size === 0) return global;
  return global.map((a, i) => local.get(i) ?? a);
}

/** Makes only the model's BatchNormalization layers trainable; throws when it has none. */
export function setBatchNormTrainable(model: tf.LayersModel): void {
  const bn = model.layers.filter(isBatchNormLayer);
  if (bn.length === 0) throw new FedtuneError('config', `personalization mode "fedbn" needs a model with BatchNorm layers (e.g. --arch cnn-bn); "${model.name}" has none`);
  for (const layer of model.layers) layer.trainable = isBatchNormLayer(layer);
}

/**
 * The training config of a personalisation: the run's settings (batch size, optimizer, robust options),
 * `settings.epochs`, and per mode the layers that train and the proximal term (Ditto's λ as FedProx's μ,
 * anchored at the weights the model holds when the fit starts: the global model).
 */
export function personalizationTrainConfig(train: TrainConfig, settings: PersonalizationSettings): TrainConfig {
  const { earlyStopping: _e, maxExamples: _m, dpSgd: _d, localBatchNorm: _b, ...rest } = train;
  return {
    ...rest,
    epochs: settings.epochs,
    ...(settings.learningRate !== undefined ? { learningRate: settings.learningRate } : {}),
    trainable: settings.mode === 'head' ? 'head' : 'all',
    proximalMu: settings.mode === 'ditto' ? settings.lambda : undefined,
  };
}

export interface PersonalizationOutcome {
  /** False when validation preferred the global model (the model then holds the global weights again). */
  adopted: boolean;
  fit: FitMetrics;
  /** Validation loss of the global and of the personalised weights (NaN without a validation split). */
  validationLoss: { global: number; personalized: number };
  /** Mode 'auto': the candidate kept. */
  chosen?: AutoCandidate;
  /** Mode 'auto': every candidate's validation scores. */
  candidates?: CandidateScore[];
  /** Mode 'auto': how the candidates were scored (holdout or k-fold, and over how many examples). */
  selection?: AutoPersonalizationOutcome['selection'];
}

/**
 * Personalises `model` (holding the final global weights) on the site's own data, in place:
 * 'head' trains the last layer with weights, 'lp-ft' the last layer for `epochs` then every layer for
 * `epochs` (linear probing, then fine-tuning), 'fedbn' only the BatchNorm layers (γ, β and, as they train,
 * the moving statistics), 'ditto' every layer with (λ/2)‖v − w_global‖² added to the loss, 'auto' the best
 * on validation of several of these, the global model and `extra.localOnly` (autoPersonalize). With
 * `settings.validate`, the personalised weights are kept only if their validation loss is no worse than the
 * global model's. The weights never leave the caller. Leaks no tensors.
 */
export async function personalizeModel(
  model: tf.LayersModel,
  data: { train: Dataset; validation: Dataset },
  train: TrainConfig,
  settings: PersonalizationSettings,
  extra: { localOnly?: WeightArrays; localOnlyRecipe?: LocalOnlyRecipe } = {},
): Promise<PersonalizationOutcome> {
  if (settings.mode === 'none') throw new FedtuneError('config', 'personalization mode "none" trains nothing');
  const config = personalizationTrainConfig(train, settings);
  const hasValidation = data.validation.y.length > 0;
  const globalLoss = hasValidation ? evaluateModel(model, data.validation).loss : NaN;
  const global = settings.validate && hasValidation ? readModelWeights(model).arrays : undefined;
  let fit: FitMetrics;
  if (settings.mode === 'auto') {
    // Model selection on validation already includes the global model: `validate` has nothing to add.
    const auto = await autoPersonalize(model, data, config, settings, extra);
    const kept = auto.scores.find((s) => s.candidate === auto.chosen)!;
    const fitted = evaluateModel(model, data.train);
    return { adopted: auto.chosen !== 'global', chosen: auto.chosen, candidates: auto.scores, selection: auto.selection, fit: { loss: fitted.loss, accuracy: fitted.accuracy, numExamples: data.train.y.length }, validationLoss: { global: globalLoss, personalized: kept.loss } };
  }
  if (settings.mode === 'fedbn') {
    // fitLocal sets trainable layers from config.trainable; FedBN overrides that with the BN layers only.
    setBatchNormTrainable(model);
    fit = await fitLocal(model, data.train, { ...config, trainable: 'all' }, undefined, { keepTrainable: true });
  } else if (settings.mode === 'lp-ft') {
    // LP-FT (Kumar et al. 2022): fit the head on the global features first, then fine-tune every layer from there.
    await fitLocal(model, data.train, { ...config, trainable: 'head' });
    fit = await fitLocal(model, data.train, { ...config, trainable: 'all', seed: config.seed + 1 });
  } else {
    fit = await fitLocal(model, data.train, config);
  }
  const personalLoss = hasValidation ? evaluateModel(model, data.validation).loss : NaN;
  let adopted = true;
  if (global && !(personalLoss <= globalLoss)) {
    writeModelWeights(model, global);
    adopted = false;
  }
  setTrainableLayers(model, 'all');
  return { adopted, fit, validationLoss: { global: globalLoss, personalized: personalLoss } };
}
