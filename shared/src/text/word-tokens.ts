/**
 * The tokenizer's word splitting: lowercase, then maximal runs of letters and digits (any script) with inner
 * apostrophes (`don't`, `o'clock`). Everything else (punctuation, whitespace, symbols) separates words.
 * `"Hello,  WORLD! Don't"` → `["hello", "world", "don't"]`.
 */
const WORD = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;

/** The longest word kept (longer runs — base64, URLs without separators — are cut to this). */
export const MAX_WORD_CHARS = 40;

export function wordTokens(text: string): string[] {
  const words = text.toLowerCase().match(WORD) ?? [];
  return words.map((w) => (w.length > MAX_WORD_CHARS ? w.slice(0, MAX_WORD_CHARS) : w));
}
