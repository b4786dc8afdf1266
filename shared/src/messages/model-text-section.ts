import { z } from 'zod';
import { canonicalHash } from '../policy/run-terms-hash.ts';
import { parseVocabulary, VOCABULARY_LIMITS, type Vocabulary } from '../text/vocabulary.ts';

/** Longest token the wire accepts (the tokenizer's own words are shorter: MAX_WORD_CHARS). */
export const MAX_WIRE_TOKEN_CHARS = 64;

/**
 * The text section of a text model's 'model' message (docs/text.md#sites-on-their-own-texts): the vocabulary
 * the site tokenizes its own texts with (`vocabulary[id]` is the word of id `id`, 0 = `<pad>`, 1 = `<unk>`) and
 * the fixed number of ids per text. Bounded: at most 50,000 tokens of at most 64 characters.
 */
export const ModelTextSection = z
  .object({
    vocabulary: z.array(z.string().min(1).max(MAX_WIRE_TOKEN_CHARS)).min(VOCABULARY_LIMITS.minSize).max(VOCABULARY_LIMITS.maxSize),
    sequenceLength: z.number().int().min(VOCABULARY_LIMITS.minSequenceLength).max(VOCABULARY_LIMITS.maxSequenceLength),
  })
  .strict();
export type ModelTextSection = z.output<typeof ModelTextSection>;

/** The text section a coordinator sends for a model with this vocabulary (its `vocab.json`). */
export function modelTextSectionOf(vocabulary: Vocabulary): ModelTextSection {
  return { vocabulary: [...vocabulary.tokens], sequenceLength: vocabulary.sequenceLength };
}

/** The vocabulary a site tokenizes with, from a received text section: validated as a vocab.json is (pad/unk first, no word twice). */
export function vocabularyOfTextSection(section: ModelTextSection): Vocabulary {
  return parseVocabulary({ kind: 'fedtune-word-vocabulary', version: 1, sequenceLength: section.sequenceLength, tokens: section.vocabulary }, "the run's vocabulary");
}

/** The vocab.json a text section comes from (readVocabulary reads it back to the same section). */
export function vocabularyFileOf(section: ModelTextSection): { kind: 'fedtune-word-vocabulary'; version: 1; sequenceLength: number; tokens: string[] } {
  return { kind: 'fedtune-word-vocabulary', version: 1, sequenceLength: section.sequenceLength, tokens: [...section.vocabulary] };
}

/** What the run's terms pin of a text model (`model.vocabularyHash`): sha-256 of the canonical JSON of its text section. */
export function vocabularyHashOf(section: ModelTextSection): string {
  return canonicalHash(section);
}
