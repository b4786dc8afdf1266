import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, modelFromFiles, modelInterfaceOf, withLogitsOutput } from '@fedtune/shared';

/**
 * Loads a classifier saved in the TensorFlow.js format (`model.json` + `weights.bin`) from a directory.
 * A final softmax is dropped (fedtune works on logits; `onNotice` is told); a model whose output is not
 * one logit per class is refused with FedtuneError('config').
 */
export async function loadModelDir(dir: string, options: { onNotice?: (message: string) => void } = {}): Promise<tf.LayersModel> {
  let modelJson: Record<string, unknown>;
  let weightsBin: Uint8Array;
  try {
    modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    weightsBin = readFileSync(join(dir, 'weights.bin'));
  } catch (cause) {
    throw new FedtuneError('not_found', `no TensorFlow.js model in ${dir}: ${(cause as Error).message}`, { cause });
  }
  const topology = modelJson.modelTopology;
  if (typeof topology !== 'object' || topology === null) throw new FedtuneError('config', `${join(dir, 'model.json')} has no modelTopology: is it a TensorFlow.js layers model?`);
  const change = withLogitsOutput(topology as Record<string, unknown>).change;
  if (change) options.onNotice?.(change);
  let model: tf.LayersModel;
  try {
    model = await modelFromFiles({ modelJson, weightsBin });
  } catch (cause) {
    throw new FedtuneError('config', `cannot load the model in ${dir}: ${(cause as Error).message}`, { cause });
  }
  try {
    modelInterfaceOf(model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
