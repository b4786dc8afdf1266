import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import { withLogitsOutput } from './logits-output.ts';
import { limitWeightAllocation } from './weight-allocation-limit.ts';

/** The model's architecture as a plain JSON object (no weights). */
export function modelTopology(model: tf.LayersModel): Record<string, unknown> {
  return model.toJSON(null, false) as unknown as Record<string, unknown>;
}

/**
 * Builds an (untrained) model from a topology produced by `modelTopology`; a final softmax is dropped
 * (logits-output.ts). With `maxParameters` (a topology from a peer: the manifest's total), a topology whose
 * layers would make more weights than that is refused before they are allocated (weight-allocation-limit.ts).
 */
export async function modelFromTopology(topology: Record<string, unknown>, options: { maxParameters?: number } = {}): Promise<tf.LayersModel> {
  try {
    const restore = options.maxParameters === undefined ? undefined : limitWeightAllocation(options.maxParameters);
    let building: Promise<tf.LayersModel>;
    try {
      // Every layer is built before modelFromJSON's first await: the limit is lifted once this call returns.
      building = tf.models.modelFromJSON({ modelTopology: withLogitsOutput(topology).topology } as unknown as tf.io.ModelJSON);
    } finally {
      restore?.();
    }
    return await building;
  } catch (cause) {
    if (cause instanceof FedtuneError) throw cause;
    throw new FedtuneError('config', `cannot build a model from the topology: ${(cause as Error).message}`, { cause });
  }
}
