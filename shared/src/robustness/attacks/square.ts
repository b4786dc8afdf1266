import type * as tf from '@tensorflow/tfjs';
import { featureSize, type Dataset } from '../../data/dataset.ts';
import { FedtuneError } from '../../errors.ts';
import { SeededRandom } from '../../random/seeded-random.ts';
import { modelLogits } from '../calibration/model-logits.ts';
import { nextTurn } from '../../client/yield-to-event-loop.ts';

/** The Square Attack's settings (L∞). */
export interface SquareAttackParams {
  /** Radius of the L∞ ball, in absolute input units (feature j moves by at most eps·scale[j] with `scale`). */
  eps: number;
  /** Model queries per example at most (the initial stripes count as one). */
  queries: number;
  /** Share of the image's pixels the first squares cover (halved on the paper's schedule as queries are spent). */
  pInit: number;
  seed: number;
  clipMin: number;
  clipMax: number;
  /** Image height and width (tabular data: 1 × features). */
  height: number;
  width: number;
  /** Per-feature units of ε (absent: absolute). */
  scale?: Float32Array;
  /** Examples per forward pass. */
  batchSize?: number;
}

export interface SquareAttackResult {
  /** The adversarial inputs, n × features (each within the ε-ball of its input and the valid range). */
  x: Float32Array;
  /** Per example: whether the model still classifies it correctly after the attack. */
  robust: Uint8Array;
  /** Per example: queries spent (an example stops once it is misclassified). */
  queries: Int32Array;
}

/**
 * The share of pixels a square covers at iteration `it` of `queries` (Andriushchenko et al. 2020's piecewise
 * constant schedule, on its 10,000-iteration scale): pInit, then halved at 10, 50, 200, 500, 1000, 2000, 4000,
 * 6000 and 8000.
 */
export function squareShare(pInit: number, it: number, queries: number): number {
  const i = Math.floor((it / queries) * 10_000);
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  for (const b of bounds) if (i > b) halvings++;
  return pInit / 2 ** halvings;
}

/** z_y − max_{j≠y} z_j per example: ≤ 0 means misclassified. */
function margins(logits: Float32Array, labels: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(labels.length);
  // Stryker disable next-line EqualityOperator: equivalent: one more pass writes past the typed array's end, which is ignored.
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    let other = -Infinity;
    for (let j = 0; j < k; j++) if (j !== y) other = Math.max(other, logits[i * k + j]);
    out[i] = logits[i * k + y] - other;
  }
  return out;
}

/**
 * Square Attack, L∞ (Andriushchenko et al. 2020, Square Attack: a query-efficient black-box adversarial attack
 * via random search): uses the model's outputs only, never its gradients, so gradient masking does not stop it.
 * Starts from vertical stripes of ±ε, then, per query, moves one random square window (side √(p·h·w), p on
 * squareShare's schedule) to a new random vertex of the ε-ball and keeps it if the margin loss falls. An example
 * stops as soon as it is misclassified. Seeded: the same inputs, model and seed give the same result. Yields to the
 * event loop after every query (a thousand queries are many seconds: health checks and sockets keep running).
 */
export async function squareAttack(model: tf.LayersModel, data: Dataset, params: SquareAttackParams): Promise<SquareAttackResult> {
  const { eps, queries, pInit, seed, clipMin, clipMax, height, width, scale, batchSize = 500 } = params;
  const n = data.y.length;
  const f = featureSize(data);
  const k = data.numClasses;
  if (!(Number.isInteger(queries) && queries >= 1)) throw new FedtuneError('config', `square attack: queries must be an integer ≥ 1 (got ${queries})`);
  if (!(pInit > 0 && pInit <= 1)) throw new FedtuneError('config', `square attack: pInit must be in (0, 1] (got ${pInit})`);
  if (!(eps >= 0)) throw new FedtuneError('config', `square attack: eps must be ≥ 0 (got ${eps})`);
  if (!(Number.isInteger(height) && height >= 1 && Number.isInteger(width) && width >= 1) || f % (height * width) !== 0) throw new FedtuneError('config', `square attack: ${f} features are not images of ${height}×${width}`);
  if (scale && scale.length !== f) throw new FedtuneError('config', `square attack: scale has ${scale.length} values, the inputs have ${f} features`);
  const channels = f / (height * width);
  const rng = new SeededRandom(seed);
  const x0 = data.x;
  const radius = (j: number) => eps * (scale ? scale[j] : 1);
  // Feature j (row r, column c, channel ch, channels last) set to the vertex x0 + sign·ε, clipped to the range.
  const vertex = (row: number, j: number, sign: number) => Math.min(clipMax, Math.max(clipMin, x0[row * f + j] + sign * radius(j)));
  const used = new Int32Array(n);
  // The initial point: a vertical stripe per column and channel, the same sign over the column.
  const best = new Float32Array(n * f);
  // Stryker disable next-line EqualityOperator: equivalent: one more example draws after every used draw and writes past the array's end (ignored).
  for (let i = 0; i < n; i++) {
    // Stryker disable next-line EqualityOperator: equivalent: rng.next() is exactly 0.5 with probability zero.
    const signs = Array.from({ length: width * channels }, () => (rng.next() < 0.5 ? -1 : 1));
    // One step past a row, column or channel writes a feature that its own iteration writes again afterwards (or past the array's end: ignored).
    // Stryker disable next-line EqualityOperator: equivalent (above)
    for (let r = 0; r < height; r++) {
      // Stryker disable next-line EqualityOperator: equivalent (above)
      for (let c = 0; c < width; c++) {
        // Stryker disable next-line EqualityOperator: equivalent (above)
        for (let ch = 0; ch < channels; ch++) {
          const j = (r * width + c) * channels + ch;
          // With ε = 0 the vertex is x0 itself (clipped to the range it lies in).
          best[i * f + j] = vertex(i, j, signs[c * channels + ch]);
        }
      }
    }
  }
  const logitsOf = (x: Float32Array, labels: Int32Array) => modelLogits(model, { x, y: labels, featureShape: data.featureShape, numClasses: k }, batchSize);
  const bestMargin = margins(logitsOf(best, data.y), data.y, k);
  used.fill(1);
  if (eps > 0) {
    for (let it = 1; it < queries; it++) {
      // Stryker disable next-line ArrayDeclaration: equivalent: a non-index entry builds a candidate whose margin is NaN, never accepted.
      const active: number[] = [];
      // Stryker disable next-line EqualityOperator: equivalent: bestMargin[n] is undefined (never active); a margin of exactly 0 has measure zero.
      for (let i = 0; i < n; i++) if (bestMargin[i] > 0) active.push(i);
      // Stryker disable next-line ConditionalExpression: equivalent: without the early stop the remaining queries evaluate no example (time only).
      if (active.length === 0) break;
      const p = squareShare(pInit, it, queries);
      const side = Math.max(1, Math.min(height, width, Math.round(Math.sqrt(p * height * width))));
      const candidates = new Float32Array(active.length * f);
      const labels = new Int32Array(active.length);
      active.forEach((i, a) => {
        candidates.set(best.subarray(i * f, (i + 1) * f), a * f);
        labels[a] = data.y[i];
        const r0 = rng.int(height - side + 1);
        const c0 = rng.int(width - side + 1);
        // Stryker disable next-line EqualityOperator: equivalent: rng.next() is exactly 0.5 with probability zero.
        const signs = Array.from({ length: channels }, () => (rng.next() < 0.5 ? -1 : 1));
        for (let r = r0; r < r0 + side; r++) {
          for (let c = c0; c < c0 + side; c++) {
            for (let ch = 0; ch < channels; ch++) {
              const j = (r * width + c) * channels + ch;
              candidates[a * f + j] = vertex(i, j, signs[ch]);
            }
          }
        }
      });
      const m = margins(logitsOf(candidates, labels), labels, k);
      active.forEach((i, a) => {
        used[i]++;
        if (m[a] < bestMargin[i]) {
          bestMargin[i] = m[a];
          best.set(candidates.subarray(a * f, (a + 1) * f), i * f);
        }
      });
      await nextTurn();
    }
  }
  const robust = new Uint8Array(n);
  // Stryker disable next-line EqualityOperator: equivalent: a write past the typed array's end is ignored.
  for (let i = 0; i < n; i++) robust[i] = bestMargin[i] > 0 ? 1 : 0;
  return { x: best, robust, queries: used };
}
