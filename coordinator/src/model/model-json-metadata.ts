import { join } from 'node:path';
import { FedtuneError, jsonSyntaxMessage } from '@fedtune/shared';
import { readInputText } from '@fedtune/shared/node';
import { MAX_MODEL_JSON_BYTES } from './model-json-limit.ts';

/**
 * The `userDefinedMetadata` of the model.json in `dir` (undefined when it has none). A model.json that is missing
 * is FedtuneError('not_found'); one that is not JSON, FedtuneError('config') naming the file.
 */
export function readModelJsonMetadata(dir: string): Record<string, unknown> | undefined {
  const file = join(dir, 'model.json');
  const text = readInputText(file, { what: 'model.json', code: 'config', missingCode: 'not_found', maxBytes: MAX_MODEL_JSON_BYTES });
  let json: { userDefinedMetadata?: Record<string, unknown> };
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new FedtuneError('config', `${file} is not valid JSON: ${jsonSyntaxMessage(cause)}`, { cause });
  }
  return json?.userDefinedMetadata;
}
