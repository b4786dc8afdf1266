import type * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../../errors.ts';

/**
 * The words a word-substitution attack may put in place of each vocabulary word: row w of `neighbours`
 * (`k` entries, −1 where there are fewer) holds w's nearest words by cosine similarity in an embedding space,
 * nearest first, none further than `maxCosineDistance` (1 − cosine). A synonym-free proxy for "close" words
 * (docs/robustness.md#word-substitution-attack): embedding neighbours are often related words, but also
 * antonyms and words that merely share contexts.
 */
export interface CandidateTable {
  vocabSize: number;
  k: number;
  /** vocabSize × k word ids, −1 padded. */
  neighbours: Int32Array;
}

/**
 * For each word of `embeddingMatrix` ([vocab, dim]: the model's or a pretrained model's embedding), its
 * `k` nearest other words by cosine, at cosine distance ≤ `maxCosineDistance` (in [0, 2]). A word with a zero
 * embedding has no neighbours and is no one's neighbour; ties go to the lower id. Leaks no tensors.
 */
export function nearestNeighbourCandidates(embeddingMatrix: tf.Tensor2D, k: number, maxCosineDistance: number): CandidateTable {
  if (!Number.isInteger(k) || k < 1) throw new FedtuneError('config', `candidate count k must be a positive integer, got ${k}`);
  if (!(maxCosineDistance >= 0 && maxCosineDistance <= 2)) throw new FedtuneError('config', `maxCosineDistance must be in [0, 2], got ${maxCosineDistance}`);
  if (embeddingMatrix.rank !== 2) throw new FedtuneError('shape_mismatch', `an embedding matrix is [vocab, dim], got shape [${embeddingMatrix.shape.join(', ')}]`);
  const [vocab] = embeddingMatrix.shape;
  const take = Math.min(k, Math.max(0, vocab - 1));
  const neighbours = new Int32Array(vocab * k).fill(-1);
  if (take === 0) return { vocabSize: vocab, k, neighbours };
  // Plain JS over the copied matrix (vocab²/2 · dim multiply-adds).
  const dim = embeddingMatrix.shape[1];
  const unit = Float32Array.from(embeddingMatrix.dataSync());
  const zero = new Uint8Array(vocab);
  for (let w = 0; w < vocab; w++) {
    let norm = 0;
    for (let q = 0; q < dim; q++) norm += unit[w * dim + q] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) zero[w] = 1;
    else for (let q = 0; q < dim; q++) unit[w * dim + q] /= norm;
  }
  const minSimilarity = 1 - maxCosineDistance;
  // Each pair's similarity is computed once (it is symmetric, bit for bit) and offered to both words' lists; each
  // list still receives its words in ascending id order, so ties go to the lower id as before. Half the work.
  const bestSim = new Float64Array(vocab * take);
  const bestId = new Int32Array(vocab * take);
  const found = new Int32Array(vocab);
  const offer = (w: number, v: number, sim: number) => {
    const base = w * take;
    const n = found[w];
    if (n === take && sim <= bestSim[base + take - 1]) return;
    let at = n < take ? found[w]++ : take - 1;
    while (at > 0 && bestSim[base + at - 1] < sim) {
      bestSim[base + at] = bestSim[base + at - 1];
      bestId[base + at] = bestId[base + at - 1];
      at--;
    }
    bestSim[base + at] = sim;
    bestId[base + at] = v;
  };
  for (let w = 0; w < vocab; w++) {
    if (zero[w]) continue;
    for (let v = w + 1; v < vocab; v++) {
      if (zero[v]) continue;
      let sim = 0;
      for (let q = 0; q < dim; q++) sim += unit[w * dim + q] * unit[v * dim + q];
      if (!(sim >= minSimilarity)) continue;
      offer(w, v, sim);
      offer(v, w, sim);
    }
    for (let j = 0; j < found[w]; j++) neighbours[w * k + j] = bestId[w * take + j];
  }
  return { vocabSize: vocab, k, neighbours };
}
