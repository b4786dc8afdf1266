import type * as tf from '@tensorflow/tfjs';
import type { ModelInterface } from '../data/fit-data-to-model.ts';
import { outputClasses } from './logits-output.ts';

/** The example shape a model takes and the number of classes it outputs (throws FedtuneError('config') if it is not a classifier). */
export function modelInterfaceOf(model: tf.LayersModel): ModelInterface {
  return { inputShape: model.inputs[0].shape.slice(1), numClasses: outputClasses(model.outputs[0].shape) };
}
