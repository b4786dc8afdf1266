import { readInputText } from '@fedtune/shared/node';
import { join } from 'node:path';
import { MAX_MODEL_JSON_BYTES } from './model-json-limit.ts';

/** Socket.io message limit for `weightCount` float32 weights: twice their bytes plus 1 MB, at least 16 MB (as maxMessageBytesFor). */
export function maxMessageBytesForWeights(weightCount: number): number {
  return Math.max(16 * 1024 * 1024, 4 * weightCount * 2 + 1024 * 1024);
}

/** Largest weight count believed from a manifest (10^10 weights: 40 GB), so a hostile file cannot overflow the sum. */
const MAX_WEIGHTS = 1e10;

/**
 * The socket.io message limit of the TensorFlow.js model in `dir`, read from its model.json's weightsManifest
 * without loading tfjs or the weights: what `maxMessageBytesFor(loadModelDir(dir))` will be. It lets the
 * coordinator listen before its model is loaded (start-coordinator.ts `load`). Undefined when model.json is
 * missing or its manifest is not one it can read (shapes of non-negative integers): the caller then loads the
 * model first, whose errors say what is wrong.
 */
export function maxMessageBytesForModelDir(dir: string): number | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readInputText(join(dir, 'model.json'), { what: 'model.json', code: 'config', maxBytes: MAX_MODEL_JSON_BYTES })); // never a pipe: it would block
  } catch {
    return undefined;
  }
  const manifest = (json as { weightsManifest?: unknown } | null)?.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) return undefined;
  let count = 0;
  for (const group of manifest) {
    const weights = (group as { weights?: unknown } | null)?.weights;
    if (!Array.isArray(weights)) return undefined;
    for (const w of weights) {
      const shape = (w as { shape?: unknown } | null)?.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return undefined;
      count += (shape as number[]).reduce((a, b) => a * b, 1);
      if (count > MAX_WEIGHTS) return undefined;
    }
  }
  return maxMessageBytesForWeights(count);
}
