/**
 * Classification metrics computed from predicted class probabilities (softmax of the logits) and labels.
 * Pure functions on plain arrays: no tensors, usable in Node and the browser.
 */

/** Probabilities of n examples over k classes: a flat n×k array, or one row per example. */
export type Probabilities = Float32Array | ArrayLike<number>[];

function rows(probs: Probabilities, n: number): { k: number; at: (i: number, c: number) => number } {
  if (probs instanceof Float32Array) {
    const k = n === 0 ? 0 : probs.length / n;
    if (!Number.isInteger(k)) throw new Error(`probabilities hold ${probs.length} values, not a multiple of ${n} examples`);
    return { k, at: (i, c) => probs[i * k + c] };
  }
  if (probs.length !== n) throw new Error(`${probs.length} probability rows for ${n} labels`);
  return { k: n === 0 ? 0 : probs[0].length, at: (i, c) => probs[i][c] };
}

/** Index of the largest value of row i (first on ties) and that value. */
function argMaxRow(at: (i: number, c: number) => number, k: number, i: number): [number, number] {
  let best = 0;
  let p = at(i, 0);
  for (let c = 1; c < k; c++) {
    const v = at(i, c);
    if (v > p) {
      p = v;
      best = c;
    }
  }
  return [best, p];
}

/** Predicted class and its probability (the confidence) per example. */
export function predictions(probs: Probabilities, n: number): { predicted: Int32Array; confidence: Float32Array } {
  const { k, at } = rows(probs, n);
  const predicted = new Int32Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i++) [predicted[i], confidence[i]] = argMaxRow(at, k, i);
  return { predicted, confidence };
}

export interface ReliabilityBin {
  /** Lower and upper edge of the confidence interval (lo, hi]; the first bin includes 0. */
  lo: number;
  hi: number;
  /** Mean confidence of the examples in the bin (0 when empty). */
  confidence: number;
  /** Accuracy of the examples in the bin (0 when empty). */
  accuracy: number;
  count: number;
}

/**
 * The reliability diagram: examples binned by confidence into `bins` equal-width bins of (0, 1], with the
 * mean confidence and accuracy per bin (Guo et al. 2017).
 */
export function reliabilityBins(probs: Probabilities, labels: ArrayLike<number>, bins = 15): ReliabilityBin[] {
  const n = labels.length;
  const { predicted, confidence } = predictions(probs, n);
  const sumConf = new Float64Array(bins);
  const hits = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    // Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 goes to bin 0.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(confidence[i] * bins) - 1));
    sumConf[b] += confidence[i];
    hits[b] += predicted[i] === labels[i] ? 1 : 0;
    count[b] += 1;
  }
  return Array.from({ length: bins }, (_, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    confidence: count[b] ? sumConf[b] / count[b] : 0,
    accuracy: count[b] ? hits[b] / count[b] : 0,
    count: count[b],
  }));
}

/**
 * Expected calibration error: Σ_b (n_b / n) · |accuracy_b − confidence_b| over `bins` equal-width
 * confidence bins (Naeini et al. 2015; Guo et al. 2017 use 15 bins). 0 for no examples.
 */
export function expectedCalibrationError(probs: Probabilities, labels: ArrayLike<number>, bins = 15): number {
  const n = labels.length;
  if (n === 0) return 0;
  return eceFromBins(reliabilityBins(probs, labels, bins), n);
}

export function eceFromBins(bins: ReliabilityBin[], n = bins.reduce((s, b) => s + b.count, 0)): number {
  if (n === 0) return 0;
  return bins.reduce((s, b) => s + (b.count / n) * Math.abs(b.accuracy - b.confidence), 0);
}

/** confusion[true][predicted] = number of examples. */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number[][] {
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]]++;
  return m;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Number of examples of this class. */
  support: number;
}

/** Per-class precision, recall and F1 from a confusion matrix; 0 where undefined (no predictions / no examples). */
export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predictedAs = 0;
    for (let r = 0; r < k; r++) predictedAs += confusion[r][c];
    const precision = predictedAs ? tp / predictedAs : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/** Unweighted mean F1 over the classes that occur in the labels or the predictions. */
export function macroF1(perClass: ClassMetrics[], confusion: number[][]): number {
  const present = perClass.filter((_, c) => perClass[c].support > 0 || confusion.some((row) => row[c] > 0));
  return present.length ? present.reduce((s, m) => s + m.f1, 0) / present.length : 0;
}

/** The class with the lowest recall (per-class accuracy) among classes with examples. */
export function worstClass(perClass: ClassMetrics[]): { label: number; accuracy: number } {
  let worst = { label: -1, accuracy: 1 };
  perClass.forEach((m, label) => {
    if (m.support > 0 && (worst.label < 0 || m.recall < worst.accuracy)) worst = { label, accuracy: m.recall };
  });
  return worst.label < 0 ? { label: 0, accuracy: 0 } : worst;
}
