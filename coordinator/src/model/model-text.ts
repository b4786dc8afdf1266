import { modelTextSectionOf, type ModelTextSection } from '@fedtune/shared';
import { hasVocabulary, readVocabulary } from '@fedtune/shared/node';

/**
 * The text section a model directory's 'model' message carries: its vocab.json as the sites' vocabulary, or
 * undefined when the directory has none (an image or tabular model). A broken vocab.json is one line naming it.
 */
export function readModelText(modelDir: string): ModelTextSection | undefined {
  return hasVocabulary(modelDir) ? modelTextSectionOf(readVocabulary(modelDir)) : undefined;
}
