import type { IndexFinding } from './check-dataset.ts';
import { MAX_LISTED_INDICES } from './check-dataset.ts';
import type { TextDataset } from './text-dataset.ts';

/**
 * What a site's data check found in its texts (a text folder or a CSV text column), before a tokenizer: counts
 * and example indices only, never a text, a word or a class name.
 */
export interface TextDataCheckReport {
  examples: number;
  /** Texts equal to an earlier text with the same label (indices: the later copies). */
  duplicates: IndexFinding;
  /** Texts equal to another text whose label differs (indices: those texts). */
  conflictingDuplicates: IndexFinding;
  /** Texts with nothing but whitespace: the text data's missing values. */
  empty: IndexFinding;
  /** Examples per class index, the largest count over the smallest non-zero one, and classes without examples. */
  labels: { counts: number[]; imbalanceRatio: number; emptyClasses: number[] };
}

function finding(indices: number[]): IndexFinding {
  return { count: indices.length, indices: indices.slice(0, MAX_LISTED_INDICES) };
}

/** The indices of texts that repeat an earlier text with the same label exactly, in order (dropping them keeps first copies). */
export function duplicateTextIndices(data: TextDataset): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  data.texts.forEach((t, i) => {
    const key = `${data.labels[i]}\u0000${t}`;
    if (seen.has(key)) out.push(i);
    else seen.add(key);
  });
  return out;
}

/**
 * Checks a site's texts before it joins: exact and conflicting duplicates, empty texts and the label
 * distribution with its imbalance. Pure, so the Node and the browser site run the same check.
 */
export function checkTextDataset(data: TextDataset): TextDataCheckReport {
  const labelsOf = new Map<string, Set<number>>();
  data.texts.forEach((t, i) => {
    const labels = labelsOf.get(t) ?? new Set<number>();
    labels.add(data.labels[i]!);
    labelsOf.set(t, labels);
  });
  const conflicting: number[] = [];
  const empty: number[] = [];
  data.texts.forEach((t, i) => {
    if (labelsOf.get(t)!.size > 1) conflicting.push(i);
    if (t.trim() === '') empty.push(i);
  });
  const counts = new Array<number>(data.classNames.length).fill(0);
  for (const y of data.labels) if (y >= 0 && y < counts.length) counts[y]++;
  const present = counts.filter((c) => c > 0);
  return {
    examples: data.texts.length,
    duplicates: finding(duplicateTextIndices(data)),
    conflictingDuplicates: finding(conflicting),
    empty: finding(empty),
    labels: { counts, imbalanceRatio: present.length ? Math.max(...present) / Math.min(...present) : 0, emptyClasses: counts.flatMap((c, k) => (c === 0 ? [k] : [])) },
  };
}

/** The texts without exact duplicates (same text and label as an earlier one), first copies kept in order, and how many were dropped. */
export function dropDuplicateTexts(data: TextDataset): { text: TextDataset; dropped: number } {
  const drop = new Set(duplicateTextIndices(data));
  if (drop.size === 0) return { text: data, dropped: 0 };
  const keep = data.texts.flatMap((_, i) => (drop.has(i) ? [] : [i]));
  return { text: { texts: keep.map((i) => data.texts[i]!), labels: Int32Array.from(keep, (i) => data.labels[i]!), classNames: [...data.classNames] }, dropped: drop.size };
}
