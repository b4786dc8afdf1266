import { z } from 'zod';
import { FedtuneError } from '../errors.ts';
import { clipText } from './clip-text.ts';
import { MAX_WORD_CHARS, wordTokens } from './word-tokens.ts';

/** Id 0 pads a sequence to its fixed length; id 1 stands for any word outside the vocabulary. */
export const PAD_ID = 0;
export const UNK_ID = 1;
export const PAD_TOKEN = '<pad>';
export const UNK_TOKEN = '<unk>';

/** Bounds of a vocabulary file (what a site accepts from a model directory). */
export const VOCABULARY_LIMITS = Object.freeze({ minSize: 3, maxSize: 50_000, minSequenceLength: 1, maxSequenceLength: 2_000 });

/**
 * A word-level vocabulary as committed next to a text model (`vocab.json`): `tokens[id]` is the word of
 * token id `id` (0 = `<pad>`, 1 = `<unk>`), `sequenceLength` the fixed number of ids per text (truncated or
 * padded). Every site tokenizes with the same file, so the same text gives the same ids everywhere.
 */
export const VocabularySchema = z
  .object({
    kind: z.literal('fedtune-word-vocabulary'),
    version: z.literal(1),
    sequenceLength: z.number().int().min(VOCABULARY_LIMITS.minSequenceLength).max(VOCABULARY_LIMITS.maxSequenceLength),
    tokens: z.array(z.string().min(1).max(MAX_WORD_CHARS)).min(VOCABULARY_LIMITS.minSize).max(VOCABULARY_LIMITS.maxSize),
  })
  .strict();
export type Vocabulary = z.infer<typeof VocabularySchema>;

export interface BuildVocabularyOptions {
  /** Ids in all, including `<pad>` and `<unk>` (so size − 2 words). */
  size: number;
  sequenceLength: number;
}

/**
 * The vocabulary of `texts`: `<pad>`, `<unk>`, then the `size − 2` most frequent words (ties: the word first
 * in code-unit order), so the same texts always give the same vocabulary whatever their order.
 */
export function buildVocabulary(texts: readonly string[], options: BuildVocabularyOptions): Vocabulary {
  if (!Number.isInteger(options.size) || options.size < VOCABULARY_LIMITS.minSize || options.size > VOCABULARY_LIMITS.maxSize) {
    throw new FedtuneError('config', `vocabulary size must be an integer in ${VOCABULARY_LIMITS.minSize}..${VOCABULARY_LIMITS.maxSize}, got ${options.size}`);
  }
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of wordTokens(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, options.size - 2)
    .map(([w]) => w);
  return parseVocabulary({ kind: 'fedtune-word-vocabulary', version: 1, sequenceLength: options.sequenceLength, tokens: [PAD_TOKEN, UNK_TOKEN, ...words] });
}

/** Validates a vocabulary (e.g. a parsed `vocab.json`): schema, `<pad>`/`<unk>` at 0/1, no word twice. */
export function parseVocabulary(value: unknown, source = 'the vocabulary'): Vocabulary {
  const parsed = VocabularySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FedtuneError('config', clipText(`${source} is not a fedtune word vocabulary: ${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const v = parsed.data;
  if (v.tokens[PAD_ID] !== PAD_TOKEN || v.tokens[UNK_ID] !== UNK_TOKEN) throw new FedtuneError('config', `${source} must start with ${PAD_TOKEN} and ${UNK_TOKEN}`);
  const seen = new Set<string>();
  for (const t of v.tokens) {
    if (seen.has(t)) throw new FedtuneError('config', clipText(`${source} lists the token "${t}" twice`));
    seen.add(t);
  }
  return v;
}
