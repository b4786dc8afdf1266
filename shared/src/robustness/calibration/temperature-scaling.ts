import { FedtuneError } from '../../errors.ts';
import { TEMPERATURE_RANGE, TemperatureSearch, type TemperatureStats } from './temperature-search.ts';

/**
 * Temperature scaling (Guo et al. 2017): one scalar T > 0 divides the logits, chosen to minimise the mean
 * negative log-likelihood on validation data. It changes confidences, never the predicted class.
 * Logits are a flat n×k array (row i = example i), labels the n true classes.
 */

function checkShape(logits: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = labels.length;
  if (n === 0) throw new FedtuneError('data', 'temperature scaling needs at least one labeled example');
  const k = logits.length / n;
  if (!Number.isInteger(k) || k < 2) throw new FedtuneError('shape_mismatch', `${logits.length} logits do not form ${n} rows of at least 2 classes`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new FedtuneError('data', `label ${y} of example ${i} is not a class in [0, ${k})`);
  }
  for (let j = 0; j < logits.length; j++) if (!Number.isFinite(logits[j])) throw new FedtuneError('non_finite', `logit ${j} is not finite`);
  return k;
}

/** NLL, gradient and curvature in β (sums over the examples) of softmax(β·logits), for each β. */
export function temperatureStats(logits: ArrayLike<number>, labels: ArrayLike<number>, betas: readonly number[]): TemperatureStats[] {
  const n = labels.length;
  // Stryker disable next-line ConditionalExpression: equivalent: with n = 0 the row loop never runs, whatever k is.
  const k = n === 0 ? 0 : logits.length / n;
  const out = betas.map(() => ({ nll: 0, grad: 0, hess: 0 }));
  const w = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    const zy = logits[row + labels[i]];
    betas.forEach((beta, b) => {
      let m = -Infinity;
      for (let c = 0; c < k; c++) m = Math.max(m, beta * logits[row + c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += (w[c] = Math.exp(beta * logits[row + c] - m));
      let mean = 0;
      for (let c = 0; c < k; c++) mean += (w[c] / sum) * logits[row + c];
      let variance = 0;
      for (let c = 0; c < k; c++) variance += (w[c] / sum) * (logits[row + c] - mean) ** 2;
      const s = out[b];
      s.nll += m + Math.log(sum) - beta * zy;
      s.grad += mean - zy;
      s.hess += variance;
    });
  }
  return out;
}

/** Mean NLL of softmax(logits / T) (natural log). */
export function temperatureNll(logits: ArrayLike<number>, labels: ArrayLike<number>, temperature: number): number {
  checkShape(logits, labels);
  return temperatureStats(logits, labels, [1 / temperature])[0].nll / labels.length;
}

/** softmax(logits / T), row by row, as a flat n×k array. */
export function scaledProbabilities(logits: ArrayLike<number>, n: number, temperature: number): Float32Array {
  // Stryker disable next-line ConditionalExpression: equivalent: with n = 0, k = NaN gives new Float32Array(NaN), empty, and the loop never runs.
  const k = n === 0 ? 0 : logits.length / n;
  const out = new Float32Array(n * k);
  // Stryker disable next-line EqualityOperator: equivalent: one more row only writes past the end of `out`, which a typed array ignores.
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, logits[i * k + c] / temperature);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(logits[i * k + c] / temperature - m);
    // Stryker disable next-line EqualityOperator: equivalent: the extra column is the next row's first, which that row overwrites (or past the end, ignored).
    for (let c = 0; c < k; c++) out[i * k + c] = Math.exp(logits[i * k + c] / temperature - m) / sum;
  }
  return out;
}

/**
 * The temperature T ∈ [range.min, range.max] minimising the mean NLL of softmax(logits / T): exact to
 * machine precision (a grid bracket, then safeguarded Newton in 1/T, where the NLL is convex). Pure.
 * Throws FedtuneError('data') on no examples or a label outside the classes.
 */
export function fitTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>, range: { min: number; max: number } = TEMPERATURE_RANGE): number {
  checkShape(logits, labels);
  const search = new TemperatureSearch(range);
  for (let betas = search.next(); betas; betas = search.next()) search.feed(temperatureStats(logits, labels, betas));
  return search.temperature;
}

/**
 * The same exact search with the stats coming from elsewhere (the sites' validation splits, summed):
 * `ask(betas)` returns the summed stats at those inverse temperatures.
 */
export async function searchTemperature(ask: (betas: readonly number[]) => Promise<readonly TemperatureStats[]> | readonly TemperatureStats[], range: { min: number; max: number } = TEMPERATURE_RANGE): Promise<number> {
  const search = new TemperatureSearch(range);
  for (let betas = search.next(); betas; betas = search.next()) search.feed(await ask(betas));
  return search.temperature;
}
