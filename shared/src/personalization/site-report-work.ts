import type * as tf from '@tensorflow/tfjs';
import type { Splits } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import { evaluateModel } from '../learning/evaluate-model.ts';
import { fitLocal, type FitMetrics } from '../learning/fit-local.ts';
import { MAX_REPORTED_LOSS } from '../messages/schemas.ts';
import type { CandidateValidation, SiteArmMetrics, SiteReportInstruction, SiteReportResult } from '../messages/site-report-schemas.ts';
import { readModelWeights, writeModelWeights } from '../model/model-weights.ts';
import type { WeightArrays } from '../weights.ts';
import type { LocalOnlyRecipe } from './auto-personalize.ts';
import { pairedCounts } from './paired-comparison.ts';
import { perExampleCorrect } from './per-example-correct.ts';
import { personalizeModel } from './personalize-model.ts';
import type { CandidateScore } from './select-personal-candidate.ts';
import { siteRobustnessSummary } from './site-robustness-summary.ts';

export interface SiteReportWork {
  /** The arms and adoption to send (aggregates only). */
  arms: SiteReportResult['arms'];
  adopted?: boolean;
  /** Mode 'auto': the candidate kept. */
  chosen?: SiteReportResult['chosen'];
  /** Mode 'auto': every candidate's validation scores (aggregates). */
  candidates?: SiteReportResult['candidates'];
  /** The personalised model against local-only and global, example by example on the test split (counts only). */
  comparisons?: SiteReportResult['comparisons'];
  numExamples: number;
  /** How the local-only baseline trained (not sent): epochs run and, when it kept its best epoch on validation, that loss. */
  localOnlyFit?: FitMetrics;
  /** The personalised weights: kept by the site, never sent. */
  personal?: WeightArrays;
}

/** A candidate's validation scores as sent: a loss the wire schema accepts (finite, ≤ MAX_REPORTED_LOSS). */
function reportedCandidate(s: CandidateScore): CandidateValidation {
  const loss = Number.isFinite(s.loss) ? Math.min(Math.max(s.loss, 0), MAX_REPORTED_LOSS) : MAX_REPORTED_LOSS;
  return { candidate: s.candidate, accuracy: s.accuracy, loss, ...(s.robustAccuracy !== undefined ? { robustAccuracy: s.robustAccuracy } : {}) };
}

/** A model's clean metrics on the test split, and its robustness summary when asked. */
async function armMetrics(model: tf.LayersModel, test: Splits['test'], instruction: SiteReportInstruction): Promise<SiteArmMetrics> {
  const clean = evaluateModel(model, test);
  const robust = instruction.robustness ? await siteRobustnessSummary(model, test, instruction.robustness) : undefined;
  return { accuracy: clean.accuracy, loss: clean.loss, ...(robust ? { robust } : {}) };
}

/**
 * A site's part of the per-site report, on `model` (whose weights it overwrites): the pretrained model,
 * the local-only baseline (`localOnlyEpochs` from the pretrained model on this site's data alone), the
 * global model and the personalised copy of it (from `personalStart` when given: FedBN's local BatchNorm), each on the site's own test split. On return the model
 * holds the personalised weights (or the global ones without personalisation).
 */
export async function siteReportWork(
  model: tf.LayersModel,
  data: Splits,
  instruction: SiteReportInstruction,
  weights: { global: WeightArrays; pretrained?: WeightArrays; personalStart?: WeightArrays },
): Promise<SiteReportWork> {
  if (data.test.y.length === 0) throw new FedtuneError('data', 'the site has no test examples to report on');
  const arms: Partial<SiteReportResult['arms']> = {};
  let localOnlyFit: FitMetrics | undefined;
  let localOnly: WeightArrays | undefined;
  let localOnlyRecipe: LocalOnlyRecipe | undefined;
  let localOnlyCorrect: Uint8Array | undefined;
  if (weights.pretrained) {
    writeModelWeights(model, weights.pretrained);
    arms.pretrained = await armMetrics(model, data.test, instruction);
    if (instruction.localOnlyEpochs) {
      const { earlyStopping: _e, dpSgd: _d, ...train } = instruction.train;
      // A fair baseline: when the personalisation chooses on validation, local-only keeps its best epoch on validation too.
      const select = instruction.personalization?.validate === true && data.validation.y.length > 0;
      const epochs = instruction.localOnlyEpochs;
      const recipe = { start: weights.pretrained, config: { ...train, epochs, seed: deriveSeed(instruction.train.seed, 'local-only') } };
      localOnlyRecipe = recipe;
      localOnlyFit = await fitLocal(model, data.train, { ...recipe.config, ...(select ? { earlyStopping: { patience: epochs } } : {}) }, undefined, { validation: data.validation });
      arms.localOnly = await armMetrics(model, data.test, instruction);
      localOnlyCorrect = perExampleCorrect(model, data.test);
      localOnly = readModelWeights(model).arrays;
    }
  }
  writeModelWeights(model, weights.global);
  arms.global = await armMetrics(model, data.test, instruction);
  const numExamples = data.test.y.length;
  const settings = instruction.personalization;
  if (!settings || settings.mode === 'none') return { arms: arms as SiteReportResult['arms'], numExamples, ...(localOnlyFit ? { localOnlyFit } : {}) };
  const globalCorrect = perExampleCorrect(model, data.test);
  // FedBN: the personal model starts from the global one with the site's own BatchNorm layers.
  if (weights.personalStart) writeModelWeights(model, weights.personalStart);
  const outcome = await personalizeModel(model, data, { ...instruction.train, seed: deriveSeed(instruction.train.seed, 'personalize') }, settings, { localOnly, localOnlyRecipe });
  arms.personalized = await armMetrics(model, data.test, instruction);
  // Example by example, so the report can tell a real difference from the noise of a small test split.
  const personalCorrect = perExampleCorrect(model, data.test);
  const comparisons = { global: pairedCounts(personalCorrect, globalCorrect), ...(localOnlyCorrect ? { localOnly: pairedCounts(personalCorrect, localOnlyCorrect) } : {}) };
  return {
    arms: arms as SiteReportResult['arms'],
    adopted: outcome.adopted,
    ...(outcome.chosen ? { chosen: outcome.chosen } : {}),
    ...(outcome.candidates ? { candidates: outcome.candidates.map(reportedCandidate) } : {}),
    comparisons,
    numExamples,
    ...(localOnlyFit ? { localOnlyFit } : {}),
    personal: readModelWeights(model).arrays,
  };
}
