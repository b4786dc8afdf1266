import { existsSync } from 'node:fs';
import { readInputText } from './read-input-file.ts';
import { join } from 'node:path';
import { FedtuneError } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';
import { jsonSyntaxMessage } from '../text/json-syntax-message.ts';
import { parseVocabulary, type Vocabulary } from '../text/vocabulary.ts';

/** The file a text model's vocabulary is committed in, next to its model.json. */
export const VOCABULARY_FILE = 'vocab.json';

export function hasVocabulary(modelDir: string): boolean {
  return existsSync(join(modelDir, VOCABULARY_FILE));
}

/** Reads and validates `<modelDir>/vocab.json`; a missing or broken file is one FedtuneError line naming it. */
export function readVocabulary(modelDir: string): Vocabulary {
  const path = join(modelDir, VOCABULARY_FILE);
  let value: unknown;
  try {
    value = JSON.parse(readInputText(path, { what: 'vocabulary', code: 'config', missingCode: 'not_found', maxBytes: 256 * 1024 * 1024 }));
  } catch (cause) {
    if (cause instanceof FedtuneError) throw cause; // no file ('not_found'), or not a regular file
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new FedtuneError(missing ? 'not_found' : 'config', clipText(missing ? `no vocabulary at ${path}` : `${path} is not valid JSON: ${jsonSyntaxMessage(cause)}`), { cause });
  }
  return parseVocabulary(value, path);
}
