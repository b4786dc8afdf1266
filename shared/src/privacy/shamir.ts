/**
 * Shamir secret sharing (Shamir 1979) over the prime field GF(p), p = 2^521 − 1 (the Mersenne prime of NIST
 * P-521), with field arithmetic from @noble/curves. A secret of up to 65 bytes (seeds and X25519 secret keys
 * are 32) is read as one big-endian field element and becomes the constant term of a random polynomial of
 * degree t − 1; share x is the polynomial at x (x = 1, 2, …; never 0). Any t shares recover the secret by
 * Lagrange interpolation at 0; fewer reveal nothing about it. `combine` refuses fewer than t shares, and when
 * given more than t it checks that every extra share lies on the same polynomial.
 */
import { Field } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { FedtuneError } from '../errors.ts';
import type { RandomBytes } from './chacha-random.ts';

const P = 2n ** 521n - 1n;
const Fp = Field(P);
/** Bytes of one share value (a field element, big-endian). */
export const SHAMIR_SHARE_BYTES = Fp.BYTES; // 66
const MAX_SECRET_BYTES = 65;

export interface ShamirShare {
  /** Evaluation point, 1 … 2^31. */
  x: number;
  /** The polynomial at x: SHAMIR_SHARE_BYTES bytes, big-endian. */
  y: Uint8Array;
  /** Shares needed to recover the secret. */
  threshold: number;
  /** Length of the secret in bytes. */
  secretLength: number;
}

function randomFieldElement(randomBytes: RandomBytes): bigint {
  for (;;) {
    const b = randomBytes(SHAMIR_SHARE_BYTES);
    b[0] &= 0x01; // 66 bytes = 528 bits; keep 521
    const v = bytesToNumberBE(b);
    if (v < P) return v;
  }
}

/** Whether `y` can be a share value: SHAMIR_SHARE_BYTES bytes holding a field element (< p). */
export function isShareValue(y: Uint8Array | undefined): boolean {
  return y?.length === SHAMIR_SHARE_BYTES && bytesToNumberBE(y) < P;
}

function checkX(x: number): void {
  if (!(Number.isInteger(x) && x >= 1 && x <= 2 ** 31)) throw new FedtuneError('config', `a share's x must be an integer in [1, 2^31], got ${x}`);
}

/** Shares of `secret` at the given points (distinct, ≥ 1), any `threshold` of which recover it. */
export function splitAt(secret: Uint8Array, xs: readonly number[], threshold: number, randomBytes: RandomBytes): ShamirShare[] {
  if (secret.length === 0 || secret.length > MAX_SECRET_BYTES) throw new FedtuneError('config', `a secret must be 1–${MAX_SECRET_BYTES} bytes, got ${secret.length}`);
  if (!(Number.isInteger(threshold) && threshold >= 1 && threshold <= xs.length)) {
    throw new FedtuneError('config', `threshold must be an integer in [1, ${xs.length}], got ${threshold}`);
  }
  xs.forEach(checkX);
  if (new Set(xs).size !== xs.length) throw new FedtuneError('config', 'share points must be distinct');
  const coefficients = [bytesToNumberBE(secret)];
  for (let k = 1; k < threshold; k++) coefficients.push(randomFieldElement(randomBytes));
  return xs.map((x) => {
    const bx = BigInt(x);
    let y = 0n; // Horner
    for (let k = coefficients.length - 1; k >= 0; k--) y = Fp.add(Fp.mul(y, bx), coefficients[k]);
    return { x, y: numberToBytesBE(y, SHAMIR_SHARE_BYTES), threshold, secretLength: secret.length };
  });
}

/** n shares at x = 1 … n, any t of which recover `secret`. */
export function split(secret: Uint8Array, n: number, t: number, randomBytes: RandomBytes): ShamirShare[] {
  if (!(Number.isInteger(n) && n >= 1)) throw new FedtuneError('config', `number of shares must be an integer ≥ 1, got ${n}`);
  return splitAt(secret, Array.from({ length: n }, (_, k) => k + 1), t, randomBytes);
}

/** The polynomial through `points`, evaluated at `at`. */
function interpolate(points: Array<{ x: bigint; y: bigint }>, at: bigint): bigint {
  let acc = 0n;
  for (let i = 0; i < points.length; i++) {
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < points.length; j++) {
      if (i === j) continue;
      num = Fp.mul(num, Fp.create(at - points[j].x));
      den = Fp.mul(den, Fp.create(points[i].x - points[j].x));
    }
    acc = Fp.add(acc, Fp.mul(points[i].y, Fp.div(num, den)));
  }
  return acc;
}

/** Recovers the secret from at least `threshold` shares (all from one `split`). */
export function combine(shares: readonly ShamirShare[]): Uint8Array {
  if (shares.length === 0) throw new FedtuneError('quorum_not_met', 'no shares to combine');
  const { threshold, secretLength } = shares[0];
  for (const s of shares) {
    if (s.threshold !== threshold || s.secretLength !== secretLength) throw new FedtuneError('malformed_payload', 'shares come from different splits');
    checkX(s.x);
    if (s.y.length !== SHAMIR_SHARE_BYTES) throw new FedtuneError('malformed_payload', `a share value is ${SHAMIR_SHARE_BYTES} bytes, got ${s.y.length}`);
  }
  if (new Set(shares.map((s) => s.x)).size !== shares.length) throw new FedtuneError('malformed_payload', 'two shares have the same x');
  if (shares.length < threshold) {
    throw new FedtuneError('quorum_not_met', `${shares.length} shares cannot recover a secret shared with threshold ${threshold}`);
  }
  const points = shares.map((s) => {
    const y = bytesToNumberBE(s.y);
    if (y >= P) throw new FedtuneError('malformed_payload', 'a share value is not a field element');
    return { x: BigInt(s.x), y };
  });
  const basis = points.slice(0, threshold);
  // Stryker disable next-line MethodExpression: equivalent: checking the basis points too changes nothing, the interpolated polynomial passes through them.
  for (const extra of points.slice(threshold)) {
    if (interpolate(basis, extra.x) !== extra.y) throw new FedtuneError('malformed_payload', `share x=${extra.x} is inconsistent with the others`);
  }
  const secret = interpolate(basis, 0n);
  if (secret >= 1n << BigInt(8 * secretLength)) throw new FedtuneError('malformed_payload', 'the recovered value does not fit the secret length');
  return numberToBytesBE(secret, secretLength);
}
