import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { modelToFiles } from '@fedtune/shared';

/** Saves `model` as `dir/model.json` + `dir/weights.bin` (the directory made if needed), with `metadata` as its userDefinedMetadata; returns `dir`. */
export async function saveModelDir(model: tf.LayersModel, dir: string, metadata?: Record<string, unknown>): Promise<string> {
  const files = await modelToFiles(model, metadata);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'weights.bin'), files.weightsBin);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(files.modelJson));
  return dir;
}
