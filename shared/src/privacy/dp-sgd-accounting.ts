/**
 * Record-level DP-SGD (Abadi et al. 2016, "Deep Learning with Differential Privacy"): the pieces that are not
 * tensors. The training step itself is `dpSgdStep` in `learning/dp-sgd-step.ts`.
 *
 * Sampling: fedtune's DP-SGD shuffles the site's records every epoch and cuts fixed-size batches, then
 * accounts every step as the sampled Gaussian mechanism with q = batch/n. That analysis is for Poisson
 * sampling (each record independently with probability q); shuffled fixed-size batches are not Poisson
 * sampling and the stated ε is the one that practice (Opacus, TF-Privacy) reports for them, not a proof for
 * them — both libraries note the same gap.
 */
import { FedtuneError } from '../errors.ts';
import type { NormalSource } from './chacha-random.ts';
import type { RdpAccountant } from './rdp-accountant.ts';

/** δ of the reported ε when the config gives none. Keep δ well below 1/n (n the site's records). */
export const DEFAULT_DP_SGD_DELTA = 1e-5;

/** What one fit spent with DP-SGD: `steps` noisy steps at sampling rate q and noise multiplier z. */
export interface DpSgdSpend {
  steps: number;
  samplingRate: number;
  noiseMultiplier: number;
  clip: number;
}

/** A site's cumulative DP-SGD spend after composing a fit, as reported in FitResult.metrics.privacy. */
export interface DpSgdPrivacy {
  epsilon: number;
  delta: number;
  steps: number;
  samplingRate: number;
  noiseMultiplier: number;
}

/**
 * Batches per epoch and the per-step sampling rate for `used` records per epoch (drawn from `total`) in
 * batches of `batchSize`. Only whole batches run (the remainder of the shuffled order waits for the next
 * epoch), so every step has the same size and sensitivity; fewer records than a batch make one batch.
 */
export function dpSgdSchedule(used: number, total: number, batchSize: number): { batches: number; batchSize: number; samplingRate: number } {
  if (!(used >= 1 && total >= used && batchSize >= 1)) throw new FedtuneError('config', `DP-SGD needs at least one record (used ${used} of ${total}, batch ${batchSize})`);
  const size = Math.min(batchSize, used);
  return { batches: Math.floor(used / size), batchSize: size, samplingRate: size / total };
}

/** Composes one fit's steps into the site's accountant and returns the cumulative ε(δ), or undefined when ε is infinite (z = 0). */
export function composeDpSgd(accountant: RdpAccountant, spend: DpSgdSpend, delta: number = DEFAULT_DP_SGD_DELTA): DpSgdPrivacy | undefined {
  accountant.step(spend.noiseMultiplier, spend.samplingRate, spend.steps);
  const { epsilon } = accountant.getEpsilon(delta);
  if (!Number.isFinite(epsilon)) return undefined;
  return { epsilon, delta, steps: accountant.steps, samplingRate: spend.samplingRate, noiseMultiplier: spend.noiseMultiplier };
}

/** `length` independent N(0, std²) draws from `source`. */
export function dpSgdNoiseVector(source: NormalSource, length: number, std: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = std * source.normal();
  return out;
}
