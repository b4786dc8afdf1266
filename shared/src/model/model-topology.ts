import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import { withLogitsOutput } from './logits-output.ts';

/** The model's architecture as a plain JSON object (no weights). */
export function modelTopology(model: tf.LayersModel): Record<string, unknown> {
  return model.toJSON(null, false) as unknown as Record<string, unknown>;
}

/** Builds an (untrained) model from a topology produced by `modelTopology`; a final softmax is dropped (logits-output.ts). */
export async function modelFromTopology(topology: Record<string, unknown>): Promise<tf.LayersModel> {
  try {
    return await tf.models.modelFromJSON({ modelTopology: withLogitsOutput(topology).topology } as unknown as tf.io.ModelJSON);
  } catch (cause) {
    throw new FedtuneError('config', `cannot build a model from the topology: ${(cause as Error).message}`, { cause });
  }
}
