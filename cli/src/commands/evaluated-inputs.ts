import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EvaluatedData, EvaluatedModel } from '@fedtune/shared';

const sha256OfFile = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The model directory `fedtune evaluate` loaded, as its JSON names it: absolute path, SHA-256 of weights.bin and model.json. */
export function evaluatedModel(dir: string): EvaluatedModel {
  const path = resolve(dir);
  return { path, weightsSha256: sha256OfFile(join(path, 'weights.bin')), modelJsonSha256: sha256OfFile(join(path, 'model.json')) };
}

/** The data `fedtune evaluate` read: the built-in held-out set it resolved to, or the CSV's absolute path and SHA-256. */
export function evaluatedData(spec: string, builtin: string | undefined): EvaluatedData {
  if (builtin) return { builtin };
  const path = resolve(spec);
  return { path, sha256: sha256OfFile(path) };
}
