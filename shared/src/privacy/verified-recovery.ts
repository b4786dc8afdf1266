/**
 * Recovery of a Shamir secret whose owner committed to it (secure aggregation's self-mask seed: its commitment;
 * a masking key: its public key), in time that stays small as federations grow, and tolerant of one wrong share.
 *
 * `combine` (shamir.ts) checks every surplus share against the others: for each of the n − t surplus shares an
 * interpolation of t points with t field inversions — n·(n − t)·t inversions to unmask a full round of n sites
 * (272 ms of the coordinator's event loop at 40 sites, seconds at 100, growing as n³). With a commitment the
 * surplus shares are not needed: the secret from the first t shares is right exactly when the owner's check
 * accepts it. So here the secret comes from t shares with Lagrange coefficients computed once per set of points
 * (one inversion per set, by Montgomery's batch trick) and shared by every owner whose shares came from the same
 * responders, then the check.
 *
 * When the check refuses the first t shares, one of them is wrong: leaving out each of the first t + 1 shares in
 * turn finds it (the t others then recover the committed secret), as long as at most one of those is wrong and
 * n > t. The share left out is then known to be wrong — its holder revealed a value off the owner's polynomial —
 * and the caller can blame that holder (and skip its shares of other owners).
 */
import { Field } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { FedtuneError } from '../errors.ts';
import { SHAMIR_SHARE_BYTES, type ShamirShare } from './shamir.ts';

const P = 2n ** 521n - 1n;
const Fp = Field(P);

/** Lagrange coefficients at 0 for each set of points met, keyed by the points in order (one cache per unmasking). */
export type LagrangeCache = Map<string, bigint[]>;

/**
 * λ_i = Π_{j≠i} x_j / (x_j − x_i), so that f(0) = Σ λ_i·f(x_i) for every polynomial f of degree < xs.length.
 * The xs must be distinct and non-zero (share points are 1 … 2^31). One field inversion for all of them.
 */
export function lagrangeAtZero(xs: readonly bigint[]): bigint[] {
  const n = xs.length;
  const numerators: bigint[] = [];
  const denominators: bigint[] = [];
  for (let i = 0; i < n; i++) {
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      num = Fp.mul(num, xs[j]);
      den = Fp.mul(den, Fp.create(xs[j] - xs[i]));
    }
    numerators.push(num);
    denominators.push(den);
  }
  const inverses = Fp.invertBatch(denominators);
  return numerators.map((num, i) => Fp.mul(num, inverses[i]));
}

function coefficients(xs: readonly bigint[], cache: LagrangeCache | undefined): bigint[] {
  const key = xs.join(',');
  let lambda = cache?.get(key);
  if (!lambda) {
    lambda = lagrangeAtZero(xs);
    cache?.set(key, lambda);
  }
  return lambda;
}

/** The secret t shares interpolate to, or undefined when it is not a value of the secret's length. */
function secretOf(shares: readonly ShamirShare[], cache: LagrangeCache | undefined): Uint8Array | undefined {
  const lambda = coefficients(shares.map((s) => BigInt(s.x)), cache);
  let secret = 0n;
  for (let i = 0; i < shares.length; i++) secret = Fp.add(secret, Fp.mul(lambda[i], bytesToNumberBE(shares[i].y)));
  const { secretLength } = shares[0];
  return secret < 1n << BigInt(8 * secretLength) ? numberToBytesBE(secret, secretLength) : undefined;
}

export interface VerifiedSecret {
  secret: Uint8Array;
  /** The point of the one share found wrong (left out to recover the secret); absent when the first t were right. */
  wrongShareX?: number;
}

/**
 * The secret of `shares` (at least their threshold, from one split, distinct points, each a field element — as
 * secagg-server.ts checks them on arrival) that `accept` confirms: from the first t shares, or, when those are
 * refused, from the first t + 1 with one left out (the wrong share's point is returned). Undefined when neither
 * gives an accepted secret: more than one of the first t + 1 shares is wrong, or only t shares came and one is,
 * or the owner's shares are not of the secret it committed to.
 */
export function recoverVerified(shares: readonly ShamirShare[], accept: (secret: Uint8Array) => boolean, cache?: LagrangeCache): VerifiedSecret | undefined {
  const t = shares[0]?.threshold ?? 0;
  if (shares.length === 0 || shares.length < t) throw new FedtuneError('quorum_not_met', `${shares.length} shares cannot recover a secret shared with threshold ${t}`);
  for (const s of shares) {
    if (s.threshold !== t || s.secretLength !== shares[0].secretLength) throw new FedtuneError('malformed_payload', 'shares come from different splits');
    if (s.y.length !== SHAMIR_SHARE_BYTES || bytesToNumberBE(s.y) >= P) throw new FedtuneError('malformed_payload', 'a share value is not a field element');
  }
  if (new Set(shares.map((s) => s.x)).size !== shares.length) throw new FedtuneError('malformed_payload', 'two shares have the same x');
  const first = secretOf(shares.slice(0, t), cache);
  if (first && accept(first)) return { secret: first };
  // Stryker disable next-line ConditionalExpression: equivalent: leaving one of only t shares out interpolates t − 1 points, never the committed secret (a shortcut).
  if (shares.length === t) return undefined;
  const candidates = shares.slice(0, t + 1);
  // Stryker disable next-line EqualityOperator: equivalent: one more turn leaves nothing out — the t + 1 shares that already failed with one of them wrong.
  for (let out = 0; out < candidates.length; out++) {
    const secret = secretOf(candidates.filter((_, i) => i !== out), cache);
    if (secret && accept(secret)) return { secret, wrongShareX: candidates[out].x };
  }
  return undefined;
}
