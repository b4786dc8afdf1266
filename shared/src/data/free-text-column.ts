/**
 * Whether a CSV column's values read as free text rather than categories: at least 20 values, at least 90 % of
 * them distinct, 40 characters and 5 words each on average (an e-mail body, a clinical note). One-hot over such a
 * column makes every example its own category — nothing a model can learn from — so the tabular encoder refuses
 * it and names the text-column setting (a new user gave an e-mail CSV without --text-column and got "one-hot: body
 * (30 categories)"). Short identifiers and names (a passenger's name: 3–5 words, ~27 characters) are not text here.
 */
export function isFreeTextColumn(values: readonly string[]): { distinct: number; meanChars: number } | undefined {
  if (values.length < 20) return undefined;
  const distinct = new Set(values).size;
  if (distinct < 0.9 * values.length) return undefined;
  let chars = 0;
  let words = 0;
  for (const v of values) {
    chars += v.length;
    words += v.split(/\s+/).filter(Boolean).length;
  }
  const meanChars = chars / values.length;
  return meanChars >= 40 && words / values.length >= 5 ? { distinct, meanChars } : undefined;
}
