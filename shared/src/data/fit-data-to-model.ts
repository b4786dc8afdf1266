import { FedtuneError } from '../errors.ts';
import type { Dataset } from './dataset.ts';

/** What a classifier takes and gives: the shape of one example and the number of classes (logits). */
export interface ModelInterface {
  /** One example's shape (without the batch dimension); unknown dimensions are null. */
  inputShape: ReadonlyArray<number | null>;
  numClasses: number;
}

const product = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1);

/**
 * Checks that `ds` fits the model — same number of features per example (the model's input shape, with
 * unknown dimensions taken as 1), every label a class the model outputs — and returns it with the
 * model's number of classes. Throws FedtuneError('data') saying exactly what does not fit, before any
 * training. `what` names the data in the message (e.g. "site-3's data", "the holdout").
 */
/** These messages say only shapes, label indices and class counts (and `what`, a name the caller gives): a site may tell them to its coordinator. */
const SHAPES_AND_COUNTS = { shareable: true } as const;

export function fitDatasetToModel(ds: Dataset, model: ModelInterface, what = 'the data'): Dataset {
  const expected = product(model.inputShape.map((d) => d ?? 1));
  const got = product(ds.featureShape);
  if (got !== expected) {
    throw new FedtuneError(
      'data',
      `${what} has ${got} feature${got === 1 ? '' : 's'} per example (shape [${ds.featureShape.join(', ')}]) but the model expects ${expected} (input shape [${model.inputShape.map((d) => d ?? '?').join(', ')}])`,
      SHAPES_AND_COUNTS,
    );
  }
  let maxLabel = -1;
  let minLabel = 0;
  for (let i = 0; i < ds.y.length; i++) {
    if (ds.y[i] > maxLabel) maxLabel = ds.y[i];
    if (ds.y[i] < minLabel) minLabel = ds.y[i];
  }
  if (minLabel < 0) throw new FedtuneError('data', `${what} has a negative label (${minLabel}); labels must be class indices 0..${model.numClasses - 1}`, SHAPES_AND_COUNTS);
  if (maxLabel >= model.numClasses) {
    throw new FedtuneError('data', `${what} has labels up to ${maxLabel} (${maxLabel + 1} classes) but the model outputs ${model.numClasses} classes (labels 0..${model.numClasses - 1})`, SHAPES_AND_COUNTS);
  }
  return ds.numClasses === model.numClasses ? ds : { ...ds, numClasses: model.numClasses };
}
