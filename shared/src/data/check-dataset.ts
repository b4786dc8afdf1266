import type { Dataset } from './dataset.ts';
import { featureSize } from './dataset.ts';
import type { ModelInterface } from './fit-data-to-model.ts';
import { quantileUnsorted } from './column-quartiles.ts';

/** How many example or feature indices a report lists per finding (the counts are always complete). */
export const MAX_LISTED_INDICES = 10;
/** A value is outside a feature's robust range when it lies more than this many IQRs beyond its quartiles. */
export const ROBUST_RANGE_IQRS = 3;

export interface DataCheckOptions {
  /** The model the data is for: its feature count and classes are compared with the data's. */
  model?: ModelInterface;
  /** The range the model expects each feature in (e.g. [0, 1] for images), if known. */
  expectedRange?: readonly [number, number];
  /**
   * The features are an image's pixels: no per-feature robust range is checked (a stroke is rare at any one pixel,
   * so on ordinary digits nearly every example had a pixel "far outside its feature's range").
   */
  pixels?: boolean;
}

/** A count, and the first few indices it counts (examples or features), never values. */
export interface IndexFinding {
  count: number;
  indices: number[];
}

/**
 * What a site's data check found. Counts and indices only: nothing in it is a feature value, a label name
 * or any other raw content of the data, so it can be printed, logged or (with consent) shared.
 */
export interface DataCheckReport {
  examples: number;
  features: number;
  featureShape: number[];
  /** Examples whose features and label equal an earlier example's (indices: the later copies). */
  duplicates: IndexFinding;
  /** Examples whose features equal another example's while their labels differ (indices: those examples). */
  conflictingDuplicates: IndexFinding;
  /** Missing values (NaN features, e.g. empty CSV cells): `count` values in `examples.count` examples. */
  missing: { count: number; examples: IndexFinding; features: IndexFinding };
  /** Features with the same value in every example (with at least 2 examples). */
  constantFeatures: IndexFinding;
  /** Values outside the model's expected range (absent when none is known). */
  outsideExpectedRange?: { range: [number, number]; count: number; examples: IndexFinding };
  /** Values more than ROBUST_RANGE_IQRS IQRs outside their feature's quartiles (features with IQR > 0); absent for image pixels (options.pixels). */
  outsideRobustRange?: { count: number; examples: IndexFinding; features: IndexFinding };
  /** Examples per class index, the largest count over the smallest non-zero one, and classes without examples. */
  labels: { counts: number[]; imbalanceRatio: number; emptyClasses: number[] };
  /** The data against the model, when one is given. */
  model?: { expectedFeatures: number; fits: boolean; reason?: string };
}

class IndexSet {
  count = 0;
  readonly indices: number[] = [];
  add(i: number): void {
    this.count++;
    if (this.indices.length < MAX_LISTED_INDICES) this.indices.push(i);
  }
  finding(): IndexFinding {
    return { count: this.count, indices: [...this.indices] };
  }
}

/** FNV-1a over the bytes of `x[from, to)`: it only picks a row's bucket; `sameBytes` decides what is equal. */
// Stryker disable next-line BlockStatement: equivalent: one bucket for every row is slower, and as exact.
function hashRow(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: a hash of fewer bytes (or none) only puts more rows in a bucket.
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}

/**
 * Groups examples by their exact feature bytes: for each example, the index of the first example with the
 * same features (itself if none before it).
 */
function firstWithSameFeatures(ds: Dataset): Int32Array {
  const f = featureSize(ds);
  const n = ds.y.length;
  const bytes = new Uint8Array(ds.x.buffer, ds.x.byteOffset, n * f * 4);
  const buckets = new Map<number, number[]>();
  const first = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    // Stryker disable next-line ArithmeticOperator: equivalent: a hash of fewer bytes (or none) only puts more rows in a bucket.
    const h = hashRow(bytes, i * f * 4, (i + 1) * f * 4);
    const bucket = buckets.get(h);
    first[i] = i;
    if (!bucket) buckets.set(h, [i]);
    else {
      const match = bucket.find((j) => sameBytes(bytes, j * f * 4, i * f * 4, f * 4));
      if (match !== undefined) first[i] = match;
      else bucket.push(i);
    }
  }
  return first;
}

/**
 * The indices of examples that repeat an earlier example exactly (same features, same label), in order.
 * Dropping them keeps the first copy of each.
 */
export function duplicateIndices(ds: Dataset): number[] {
  return duplicatesOfGroups(ds, firstWithSameFeatures(ds));
}

/** duplicateIndices with the feature groups already worked out (firstWithSameFeatures). */
function duplicatesOfGroups(ds: Dataset, first: Int32Array): number[] {
  const out: number[] = [];
  // For each feature group, the labels seen so far.
  const seen = new Map<number, Set<number>>();
  for (let i = 0; i < ds.y.length; i++) {
    const g = first[i];
    let labels = seen.get(g);
    if (!labels) seen.set(g, (labels = new Set()));
    if (labels.has(ds.y[i])) out.push(i);
    else labels.add(ds.y[i]);
  }
  return out;
}

/**
 * Checks a site's data before it joins a run: exact and conflicting duplicates, missing values, constant
 * features, values outside the model's expected range and outside each feature's own robust range, the
 * label distribution and its imbalance, and the feature count against the model. Pure (no I/O), so the
 * Node and the browser site run the same check. The report holds counts and indices only.
 */
export function checkDataset(ds: Dataset, options: DataCheckOptions = {}): DataCheckReport {
  const f = featureSize(ds);
  const n = ds.y.length;

  // The feature groups once, for both the duplicates and the conflicting labels.
  const first = firstWithSameFeatures(ds);
  const duplicates = new IndexSet();
  for (const i of duplicatesOfGroups(ds, first)) duplicates.add(i);
  const groupLabels = new Map<number, Set<number>>();
  for (let i = 0; i < n; i++) {
    const g = first[i];
    const labels = groupLabels.get(g) ?? new Set<number>();
    labels.add(ds.y[i]);
    groupLabels.set(g, labels);
  }
  const conflicting = new IndexSet();
  for (let i = 0; i < n; i++) if (groupLabels.get(first[i])!.size > 1) conflicting.add(i);

  let missingCount = 0;
  const missingExamples = new IndexSet();
  const missingFeature = new Uint8Array(f);
  for (let i = 0; i < n; i++) {
    let here = 0;
    for (let j = 0; j < f; j++) {
      if (Number.isNaN(ds.x[i * f + j])) {
        here++;
        missingFeature[j] = 1;
      }
    }
    missingCount += here;
    if (here > 0) missingExamples.add(i);
  }
  const missingFeatures = new IndexSet();
  for (let j = 0; j < f; j++) if (missingFeature[j]) missingFeatures.add(j);

  // Per feature: constant? robust range (quartiles of its present values).
  const constant = new IndexSet();
  const robustOut = new Uint8Array(n);
  const robustFeatures = new IndexSet();
  let robustCount = 0;
  const column = new Float64Array(n);
  for (let j = 0; j < f; j++) {
    let m = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = ds.x[i * f + j];
      if (!Number.isNaN(v)) {
        column[m++] = v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (m === 0) continue;
    if (n >= 2 && min === max) {
      constant.add(j);
      continue;
    }
    // Quartiles by selection, not a sort of the column (column-quartiles.ts): the same values.
    const q1 = quantileUnsorted(column, m, 0.25);
    const q3 = quantileUnsorted(column, m, 0.75);
    const iqr = q3 - q1;
    if (options.pixels || !(iqr > 0)) continue;
    const lo = q1 - ROBUST_RANGE_IQRS * iqr;
    const hi = q3 + ROBUST_RANGE_IQRS * iqr;
    let here = 0;
    for (let i = 0; i < n; i++) {
      const v = ds.x[i * f + j];
      if (v < lo || v > hi) {
        here++;
        robustOut[i] = 1;
      }
    }
    robustCount += here;
    if (here > 0) robustFeatures.add(j);
  }
  const robustExamples = new IndexSet();
  for (let i = 0; i < n; i++) if (robustOut[i]) robustExamples.add(i);

  let outsideExpectedRange: DataCheckReport['outsideExpectedRange'];
  if (options.expectedRange) {
    const [lo, hi] = options.expectedRange;
    const examples = new IndexSet();
    let count = 0;
    for (let i = 0; i < n; i++) {
      let here = 0;
      for (let j = 0; j < f; j++) {
        const v = ds.x[i * f + j];
        if (v < lo || v > hi) here++;
      }
      count += here;
      if (here > 0) examples.add(i);
    }
    outsideExpectedRange = { range: [lo, hi], count, examples: examples.finding() };
  }

  const classes = Math.max(ds.numClasses, options.model?.numClasses ?? 0);
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < n; i++) {
    const y = ds.y[i];
    if (y >= 0 && y < classes) counts[y]++;
  }
  const present = counts.filter((c) => c > 0);
  const imbalanceRatio = present.length ? Math.max(...present) / Math.min(...present) : 0;
  const emptyClasses = counts.flatMap((c, k) => (c === 0 ? [k] : []));

  let model: DataCheckReport['model'];
  if (options.model) {
    const expectedFeatures = options.model.inputShape.reduce<number>((a, d) => a * (d ?? 1), 1);
    const maxLabel = n ? Math.max(...Array.from(ds.y)) : -1;
    const reason =
      expectedFeatures !== f
        ? `the data has ${f} features per example, the model expects ${expectedFeatures}`
        : maxLabel >= options.model.numClasses
          ? `the data has labels up to ${maxLabel}, the model outputs ${options.model.numClasses} classes`
          : undefined;
    model = { expectedFeatures, fits: reason === undefined, ...(reason ? { reason } : {}) };
  }

  return {
    examples: n,
    features: f,
    featureShape: [...ds.featureShape],
    duplicates: duplicates.finding(),
    conflictingDuplicates: conflicting.finding(),
    missing: { count: missingCount, examples: missingExamples.finding(), features: missingFeatures.finding() },
    constantFeatures: constant.finding(),
    ...(outsideExpectedRange ? { outsideExpectedRange } : {}),
    ...(options.pixels ? {} : { outsideRobustRange: { count: robustCount, examples: robustExamples.finding(), features: robustFeatures.finding() } }),
    labels: { counts, imbalanceRatio, emptyClasses },
    ...(model ? { model } : {}),
  };
}
