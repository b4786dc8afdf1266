import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../../errors.ts';
import type { CandidateTable } from './candidate-table.ts';
import { splitAtEmbedding } from './embedding-split.ts';
import { predictAll } from '../../learning/predict-all.ts';

/** PAD and UNK of the text task's tokenizer: never replaced, never put in. */
export const DEFAULT_PROTECTED_IDS: readonly number[] = [0, 1];

export interface WordSubstitutionOptions {
  /** Words replaced per example at most: a count (`budgetUnit` 'words'), or a share of its non-pad tokens ('share': ⌊share · non-pad⌋). */
  budget: number;
  budgetUnit?: 'words' | 'share';
  /** The words each word may become (nearestNeighbourCandidates). */
  candidates: CandidateTable;
  /** Ids never replaced and never put in. Default DEFAULT_PROTECTED_IDS (PAD 0, UNK 1). */
  protectedIds?: readonly number[];
  /** The padding id: not counted as a token by a 'share' budget. Default 0. */
  padId?: number;
  /** Examples attacked per tensor batch. Default 100. */
  batchSize?: number;
  /**
   * How the first-order gains are scored: 'dot' (default) reads the gradient once per step and takes the dot
   * products (e_w − e_{x_i}) · g_i in float32 for the positions still open only; 'gather' is the former path
   * (the candidates' embeddings gathered into an [n, seqLen, k, dim] tensor), kept as the reference the
   * equality test and `npm run bench:text-attack` compare against. Both give the same attack.
   */
  scoring?: 'dot' | 'gather';
}

export interface WordSubstitutionResult {
  /** The attacked ids, n × seqLen (a copy: the input is not changed). */
  adversarialIds: Int32Array;
  /** 1 where the model classified the example correctly before the attack. */
  correctBefore: Uint8Array;
  /** 1 where a correctly classified example ends misclassified. */
  success: Uint8Array;
  /** Positions replaced per example (each position at most once; ≤ its budget). */
  replaced: Int32Array;
  /** Each example's budget in words. */
  budgets: Int32Array;
}

/** Each example's budget in words (validated). */
export function exampleBudgets(ids: Int32Array, n: number, seqLen: number, budget: number, unit: 'words' | 'share', padId: number): Int32Array {
  if (!Number.isFinite(budget) || budget < 0) throw new FedtuneError('config', `an attack budget is a finite number ≥ 0, got ${budget}`);
  if (unit === 'words' && !Number.isInteger(budget)) throw new FedtuneError('config', `a budget in words is a whole number, got ${budget}`);
  if (unit === 'share' && budget > 1) throw new FedtuneError('config', `a budget share is at most 1, got ${budget}`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (unit === 'words') {
      out[i] = budget;
      continue;
    }
    let tokens = 0;
    for (let p = 0; p < seqLen; p++) if (ids[i * seqLen + p] !== padId) tokens++;
    out[i] = Math.floor(budget * tokens);
  }
  return out;
}

/**
 * Word-substitution attack (greedy, gradient-guided: HotFlip, Ebrahimi et al. 2018, with the candidate
 * restriction of Alzantot et al. 2018 / Ren et al. 2019) on a model whose first layer is an Embedding over
 * token ids. Per example and step: the gradient g_i of the cross-entropy with respect to each position's
 * embedding e_{x_i}; the first-order gain of putting word w at i is (e_w − e_{x_i}) · g_i, over the
 * candidates of the (original) word at every position not yet replaced and not protected; the best
 * (position, word) is swapped, the model re-evaluated, and it repeats until the example is misclassified,
 * its budget is spent or no candidate is left. Each position is replaced at most once, so `replaced` counts
 * the words that differ from the input. Batched; all tensor work in tidy (leaks none); the model is not changed.
 */
export function wordSubstitutionAttack(model: tf.LayersModel, ids: Int32Array, labels: Int32Array, options: WordSubstitutionOptions): WordSubstitutionResult {
  const split = splitAtEmbedding(model);
  const matrix = split.matrix();
  const [vocab] = matrix.shape;
  const seqLen = model.inputs[0].shape[1];
  if (typeof seqLen !== 'number' || model.inputs[0].shape.length !== 2) throw new FedtuneError('shape_mismatch', 'a text model takes [batch, seqLen] token ids');
  const n = labels.length;
  if (ids.length !== n * seqLen) throw new FedtuneError('shape_mismatch', `${n} labels need ${n * seqLen} ids (seqLen ${seqLen}), got ${ids.length}`);
  for (let i = 0; i < ids.length; i++) if (!(ids[i] >= 0 && ids[i] < vocab)) throw new FedtuneError('data', `token id ${ids[i]} at ${i} is outside the vocabulary 0..${vocab - 1}`);
  const { candidates } = options;
  if (candidates.vocabSize !== vocab) throw new FedtuneError('shape_mismatch', `the candidate table covers ${candidates.vocabSize} words, the model's embedding ${vocab}`);
  const k = candidates.k;
  const protectedSet = new Set(options.protectedIds ?? DEFAULT_PROTECTED_IDS);
  const budgets = exampleBudgets(ids, n, seqLen, options.budget, options.budgetUnit ?? 'words', options.padId ?? 0);
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 100));
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const scoring = options.scoring ?? 'dot';
  if (scoring !== 'dot' && scoring !== 'gather') throw new FedtuneError('config', `scoring is 'dot' or 'gather', got ${JSON.stringify(String(scoring).slice(0, 40))}`);
  // 'dot': the embedding matrix read once (a copy; the live variable is not changed).
  const table = scoring === 'dot' ? (matrix.dataSync() as Float32Array) : undefined;
  const dim = matrix.shape[1];
  for (let i = 0; i < n; i++) if (!(labels[i] >= 0 && labels[i] < classes)) throw new FedtuneError('data', `label ${labels[i]} of example ${i} is outside the model's ${classes} classes`);

  const adversarialIds = ids.slice();
  const correctBefore = new Uint8Array(n);
  const success = new Uint8Array(n);
  const replaced = new Int32Array(n);
  const changed = new Uint8Array(ids.length);

  let batchIds = new Float32Array(0);
  let onehot = new Float32Array(0);
  let active: number[] = [];
  let needGain = false;
  /** 'dot': predictions and the gradient on the embeddings, read out inside tidy (tidy walks what it returns, element by element). */
  const forwardAndGradient = (a: number) => {
    let predicted: Int32Array = new Int32Array(0);
    let gradients: Float32Array = new Float32Array(0);
    tf.tidy(() => {
      const idsT = tf.tensor2d(batchIds, [a, seqLen]);
      if (!needGain) {
        predicted = tf.argMax(predictAll(model, idsT), 1).dataSync() as Int32Array;
        return;
      }
      let logits: tf.Tensor | undefined;
      const y = tf.tensor2d(onehot, [a, classes]);
      const grad = tf.grad((e: tf.Tensor) => {
        const out = split.rest(e, false);
        logits = tf.keep(out.clone());
        return tf.losses.softmaxCrossEntropy(y, out, undefined, undefined, tf.Reduction.SUM);
      })(split.embed(idsT));
      predicted = tf.argMax(logits!, 1).dataSync() as Int32Array;
      logits!.dispose();
      gradients = grad.dataSync() as Float32Array;
    });
    return { predicted, scores: new Float32Array(0), gradients };
  };
  /** 'gather': the former path, unchanged (the reference): every candidate's gain as a tensor. */
  const gatherScores = (a: number) =>
    tf.tidy(() => {
      const idsT = tf.tensor2d(batchIds, [a, seqLen]);
      if (!needGain) return { predicted: tf.argMax(predictAll(model, idsT), 1).dataSync() as Int32Array, scores: new Float32Array(0), gradients: new Float32Array(0) };
      const emb = split.embed(idsT);
      const y = tf.tensor2d(onehot, [a, classes]);
      let logits: tf.Tensor | undefined;
      const grad = tf.grad((e: tf.Tensor) => {
        const out = split.rest(e, false);
        logits = tf.keep(out.clone());
        return tf.losses.softmaxCrossEntropy(y, out, undefined, undefined, tf.Reduction.SUM);
      })(emb);
      const pred = tf.argMax(logits!, 1).dataSync() as Int32Array;
      // First-order gain of each (position, candidate): e_w · g_i − e_{x_i} · g_i.
      const cand = Float32Array.from({ length: a * seqLen * k }, (_, q) => {
        const r = Math.floor(q / (seqLen * k));
        const p = Math.floor(q / k) % seqLen;
        const w = candidates.neighbours[adversarialIds[active[r] * seqLen + p] * k + (q % k)];
        return w < 0 ? 0 : w;
      });
      const candEmb = tf.gather(matrix, tf.tensor3d(cand, [a, seqLen, k], 'int32'));
      const gain = tf.sub(tf.sum(tf.mul(candEmb, grad.expandDims(2)), 3), tf.sum(tf.mul(emb, grad), 2).expandDims(2));
      logits!.dispose();
      return { predicted: pred, scores: gain.dataSync() as Float32Array, gradients: new Float32Array(0) };
    });

  for (let b0 = 0; b0 < n; b0 += batchSize) {
    const b1 = Math.min(n, b0 + batchSize);
    active = Array.from({ length: b1 - b0 }, (_, j) => b0 + j);
    for (let step = 0; active.length > 0; step++) {
      const a = active.length;
      batchIds = new Float32Array(a * seqLen);
      active.forEach((i, r) => batchIds.set(adversarialIds.subarray(i * seqLen, (i + 1) * seqLen), r * seqLen));
      onehot = new Float32Array(a * classes);
      active.forEach((i, r) => (onehot[r * classes + labels[i]] = 1));
      // Forward and gradient on the embeddings of the active examples (forward only when every one has spent its budget).
      needGain = active.some((i) => replaced[i] < budgets[i]);
      const { predicted, scores, gradients } = table ? forwardAndGradient(a) : gatherScores(a);
      const next: number[] = [];
      active.forEach((i, r) => {
        const wrong = predicted[r] !== labels[i];
        if (step === 0) correctBefore[i] = wrong ? 0 : 1;
        if (wrong) {
          success[i] = correctBefore[i];
          return;
        }
        if (replaced[i] >= budgets[i]) return;
        let best = -Infinity;
        let bestPos = -1;
        let bestWord = -1;
        for (let p = 0; p < seqLen; p++) {
          const at = i * seqLen + p;
          if (changed[at] || protectedSet.has(adversarialIds[at])) continue;
          const g = (r * seqLen + p) * dim;
          const own = table ? dotFloat32(table, adversarialIds[at] * dim, gradients, g, dim) : 0;
          for (let j = 0; j < k; j++) {
            const w = candidates.neighbours[adversarialIds[at] * k + j];
            if (w < 0 || w >= vocab || protectedSet.has(w) || w === adversarialIds[at]) continue;
            const s = table ? Math.fround(dotFloat32(table, w * dim, gradients, g, dim) - own) : scores[(r * seqLen + p) * k + j];
            if (s > best) {
              best = s;
              bestPos = p;
              bestWord = w;
            }
          }
        }
        if (bestPos < 0) return;
        adversarialIds[i * seqLen + bestPos] = bestWord;
        changed[i * seqLen + bestPos] = 1;
        replaced[i]++;
        next.push(i);
      });
      active = next;
    }
  }
  return { adversarialIds, correctBefore, success, replaced, budgets };
}

/** a[ao..ao+dim) · b[bo..bo+dim) summed in order in float32 (as the tensor path's mul then sum): the same gains bit for bit. */
function dotFloat32(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let sum = 0;
  for (let d = 0; d < dim; d++) sum = Math.fround(sum + Math.fround(a[ao + d] * b[bo + d]));
  return sum;
}
