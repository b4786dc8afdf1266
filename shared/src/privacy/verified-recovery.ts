/**
 * Recovery of a Shamir secret whose owner committed to it (secure aggregation's self-mask seed: its commitment;
 * a masking key: its public key), in time that stays small as federations grow, and tolerant of wrong shares.
 *
 * `combine` (shamir.ts) checks every surplus share against the others: for each of the n − t surplus shares an
 * interpolation of t points with t field inversions — n·(n − t)·t inversions to unmask a full round of n sites
 * (272 ms of the coordinator's event loop at 40 sites, seconds at 100, growing as n³). With a commitment the
 * surplus shares are not needed: the secret from the first t shares is right exactly when the owner's check
 * accepts it. So here the secret comes from t shares with Lagrange coefficients computed once per set of points
 * (one inversion per set, by Montgomery's batch trick) and shared by every owner whose shares came from the same
 * responders, then the check.
 *
 * When the check refuses the first t shares, some shares are wrong — revealed off the owner's polynomial by a
 * hostile holder, or dealt that way by a hostile owner. Then the shares are decoded as a Reed–Solomon codeword,
 * and other sets of t are tried (recoverVerified below); the shares off the polynomial found are named, and the
 * caller can blame their holders (and skip their shares of other owners).
 */
import { Field } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { FedtuneError } from '../errors.ts';
import { decodeShares, evaluate, interpolatePolynomial } from './reed-solomon-decode.ts';
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
  return secretFromValue(secret, shares[0].secretLength);
}

/** A field element as a secret of `secretLength` bytes, or undefined when it does not fit. */
function secretFromValue(value: bigint, secretLength: number): Uint8Array | undefined {
  return value < 1n << BigInt(8 * secretLength) ? numberToBytesBE(value, secretLength) : undefined;
}

export interface VerifiedSecret {
  secret: Uint8Array;
  /**
   * The points of the shares found off the owner's polynomial, ascending; absent when the first t shares were
   * right (the surplus shares are then not looked at).
   */
  wrongShareXs?: number[];
}

/**
 * Work allowed to the subset search of one secret, in field multiplications (an inversion counted as 100): about
 * 0.15 s of the event loop. Enough for every t-subset of up to ~9 shares, e.g. 8 sites with 3 wrong shares.
 */
export const MAX_SUBSET_SEARCH_WORK = 250_000;

/** The t-subsets of 0 … m − 1 after the first, in colexicographic order: those that use the earliest shares first. */
function* laterSubsets(m: number, t: number): Generator<number[]> {
  const c = Array.from({ length: t }, (_, i) => i);
  for (;;) {
    let j = 0;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: c[t] is undefined, so c[t] + 1 is NaN and the loop stops at t either way.
    while (j < t && c[j] + 1 === (j + 1 < t ? c[j + 1] : m)) j++;
    if (j === t) return;
    c[j]++;
    for (let i = 0; i < j; i++) c[i] = i;
    yield c;
  }
}

/** The points (ascending) of the shares off the polynomial through `chosen` (t shares with the accepted secret). */
function offPolynomial(shares: readonly ShamirShare[], chosen: readonly number[]): number[] {
  const f = interpolatePolynomial(chosen.map((i) => ({ x: BigInt(shares[i].x), y: bytesToNumberBE(shares[i].y) })));
  return shares.filter((s) => evaluate(f, BigInt(s.x)) !== bytesToNumberBE(s.y)).map((s) => s.x).sort((a, b) => a - b);
}

/**
 * The secret of `shares` (at least their threshold, from one split, distinct points, each a field element — as
 * secagg-server.ts checks them on arrival) that `accept` confirms, trying in turn:
 *   1. the first t shares (the only step when they are right: surplus shares are not looked at);
 *   2. with at least t + 2 shares, Reed–Solomon decoding of all of them (reed-solomon-decode.ts), which finds the
 *      owner's polynomial when at most ⌊(m − t)/2⌋ of the m shares are wrong;
 *   3. other sets of t shares, those using the earliest shares first, within MAX_SUBSET_SEARCH_WORK — with the
 *      owner's commitment as the check this can get past up to m − t wrong shares of a small neighbourhood.
 * When step 2 or 3 finds the secret, the shares off the polynomial found are named (`wrongShareXs`). Undefined
 * when nothing gives an accepted secret: too many wrong shares, or the owner's shares are not of the secret it
 * committed to.
 *
 * What an accepted secret proves is the secret, not who lied: colluding responders who know the Lagrange
 * coefficients could craft two wrong shares whose errors cancel at 0 in a set that step 3 tries, and the
 * honest shares off that set's polynomial would then be named. Step 2 is not fooled that way while the wrong
 * shares are within its bound.
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
  const m = shares.length;
  // Stryker disable next-line ConditionalExpression: equivalent: with only t shares there is no other set of t to try (a shortcut).
  if (m === t) return undefined;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: with t + 1 shares decoding corrects none (it refuses one wrong share), and what it finds the search finds too (a shortcut).
  if (m >= t + 2) {
    const decoded = decodeShares(shares.map((s) => ({ x: BigInt(s.x), y: bytesToNumberBE(s.y) })), t);
    const secret = decoded && secretFromValue(decoded.polynomial[0] ?? 0n, shares[0].secretLength);
    if (decoded && secret && accept(secret)) return { secret, wrongShareXs: decoded.wrong.map((i) => shares[i].x).sort((a, b) => a - b) };
  }
  let work = 0;
  for (const chosen of laterSubsets(m, t)) {
    work += t * t + 100;
    if (work > MAX_SUBSET_SEARCH_WORK) return undefined;
    const secret = secretOf(chosen.map((i) => shares[i]), cache);
    if (secret && accept(secret)) return { secret, wrongShareXs: offPolynomial(shares, chosen) };
  }
  return undefined;
}
