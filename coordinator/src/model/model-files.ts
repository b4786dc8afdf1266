import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { clipText, FedtuneError, jsonSyntaxMessage, modelFromFiles, modelInterfaceOf, withLogitsOutput } from '@fedtune/shared';
import { readInputFile, readInputText } from '@fedtune/shared/node';
import { MAX_MODEL_JSON_BYTES } from './model-json-limit.ts';
import { checkWeightsBinLength } from './weights-bin-length.ts';


/**
 * One line for why TensorFlow.js could not build the model: its "Unknown layer: X. This may be due to one of the
 * following reasons: 1. … 2. …" becomes the class it lacks; anything else its first line, bounded.
 */
function loadFailure(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  // Stryker disable next-line Regex: equivalent: TensorFlow.js's message starts with "Unknown".
  const unknown = /^Unknown (\w+): (.*?)\. This may be due/.exec(message);
  if (unknown) return `it uses the ${unknown[1]} ${JSON.stringify(clipText(unknown[2], 80))}, which TensorFlow.js does not have built in (fedtune loads models of built-in layers only)`;
  return clipText(message.split('\n')[0]);
}

/**
 * Loads a classifier saved in the TensorFlow.js format (`model.json` + `weights.bin`) from a directory.
 * A final softmax is dropped (fedtune works on logits; `onNotice` is told); a model whose output is not
 * one logit per class is refused with FedtuneError('config'), as are a model.json that is not a layers model,
 * a weights.bin of another length than its manifest describes and weights that are not finite (NaN, ±∞).
 * Either file missing is 'not_found'; a pipe or device in their place is refused, never read.
 */
export async function loadModelDir(dir: string, options: { onNotice?: (message: string) => void } = {}): Promise<tf.LayersModel> {
  const jsonPath = join(dir, 'model.json');
  let text: string;
  let weightsBin: Uint8Array;
  try {
    text = readInputText(jsonPath, { what: 'model.json', code: 'config', missingCode: 'not_found', maxBytes: MAX_MODEL_JSON_BYTES });
    weightsBin = readInputFile(join(dir, 'weights.bin'), { what: 'weights.bin', code: 'config', missingCode: 'not_found' });
  } catch (cause) {
    if (cause instanceof FedtuneError && cause.code === 'not_found') throw new FedtuneError('not_found', `no TensorFlow.js model in ${dir}: ${cause.message}`, { cause });
    throw cause;
  }
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(text);
  } catch (cause) {
    throw new FedtuneError('config', `${jsonPath} is not valid JSON: ${jsonSyntaxMessage(cause)}`, { cause });
  }
  const topology = (modelJson as { modelTopology?: unknown } | null)?.modelTopology;
  if (typeof topology !== 'object' || topology === null) {
    throw new FedtuneError('config', `${jsonPath} has no modelTopology: is it a TensorFlow.js layers model?`);
  }
  checkWeightsBinLength((modelJson as { weightsManifest?: unknown }).weightsManifest, weightsBin.byteLength, jsonPath);
  const change = withLogitsOutput(topology as Record<string, unknown>).change;
  if (change) options.onNotice?.(change);
  let model: tf.LayersModel;
  try {
    model = await modelFromFiles({ modelJson: modelJson as Record<string, unknown>, weightsBin });
  } catch (cause) {
    throw new FedtuneError('config', `cannot load the model in ${dir}: ${loadFailure(cause)}`, { cause });
  }
  try {
    refuseNonFiniteWeights(model, dir);
    modelInterfaceOf(model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** FedtuneError('config') naming the first weight with NaN or ±∞ values and how many it has. */
function refuseNonFiniteWeights(model: tf.LayersModel, dir: string): void {
  for (const w of model.weights) {
    const values = w.read().dataSync();
    let bad = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
    if (bad > 0) throw new FedtuneError('config', `cannot load the model in ${dir}: weight ${clipText(w.originalName ?? w.name, 120)} has ${bad} of ${values.length} values that are not finite (NaN or ±∞): the model is broken`);
  }
}
