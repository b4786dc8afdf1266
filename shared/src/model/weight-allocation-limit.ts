import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';

type AddWeight = (this: tf.layers.Layer, name: string, shape: number[], ...rest: unknown[]) => unknown;

/**
 * Until the returned function is called, every weight a layer adds counts against `maxParameters`, and the
 * weight that would pass it is refused ('shape_mismatch') before it is allocated. A site builds the model a
 * coordinator sends from its topology, and a topology is the coordinator's to write: without this, a Dense
 * layer of 10^7 units in a topology whose manifest holds 10^5 parameters makes the site allocate and
 * initialise gigabytes before the built model is compared with the manifest.
 *
 * It wraps tf.layers.Layer's addWeight (through which every layer, cell and wrapper makes its weights), so
 * use it around synchronous work only: `tf.models.modelFromJSON` builds every layer before its first await.
 */
export function limitWeightAllocation(maxParameters: number): () => void {
  const proto = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const original = proto.addWeight;
  let total = 0;
  proto.addWeight = function addWeightWithinLimit(this: tf.layers.Layer, name: string, shape: number[], ...rest: unknown[]) {
    // A size that is not a non-negative integer (a negative one would make room for the next weight) counts as NaN, which fails the test.
    const valid = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
    total += valid ? shape.reduce((n, d) => n * d, 1) : Number.NaN;
    if (!(total <= maxParameters)) {
      throw new FedtuneError(
        'shape_mismatch',
        `the model built from the topology has more weights than the manifest's ${maxParameters} parameters (at ${clipText(name, 64)}, shape [${clipText(String(shape), 64)}]): refused before allocating them`,
      );
    }
    return original.call(this, name, shape, ...rest);
  };
  return () => {
    proto.addWeight = original;
  };
}
