import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, modelFromFiles } from '@fedtune/shared';

/** Loads a model saved in the TensorFlow.js format (`model.json` + `weights.bin`) from a directory. */
export async function loadModelDir(dir: string): Promise<tf.LayersModel> {
  let modelJson: Record<string, unknown>;
  let weightsBin: Uint8Array;
  try {
    modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    weightsBin = readFileSync(join(dir, 'weights.bin'));
  } catch (cause) {
    throw new FedtuneError('not_found', `no TensorFlow.js model in ${dir}: ${(cause as Error).message}`, { cause });
  }
  return modelFromFiles({ modelJson, weightsBin });
}
