import { describe, expect, it } from 'vitest';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { split, SHAMIR_SHARE_BYTES, type ShamirShare } from '../../shared/src/privacy/shamir.ts';
import { lagrangeAtZero, recoverVerified, type LagrangeCache } from '../../shared/src/privacy/verified-recovery.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * verified-recovery.ts: the secret from the first t shares with cached Lagrange coefficients, confirmed by the
 * owner's commitment; wrong shares found by Reed–Solomon decoding or by other sets of t.
 */
const P = 2n ** 521n - 1n;
const mod = (v: bigint) => ((v % P) + P) % P;
const inverse = (v: bigint) => {
  // Fermat: v^(p−2) mod p.
  let result = 1n;
  let base = mod(v);
  let e = P - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % P;
    base = (base * base) % P;
    e >>= 1n;
  }
  return result;
};

const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
let counter = 0;
const randomBytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7 * ++counter) & 0xff);
const sameAsSecret = (b: Uint8Array) => b.length === secret.length && b.every((v, i) => v === secret[i]);
/** The share with its value moved by `by` (mod p): still a field element, off the polynomial. */
const moved = (s: ShamirShare, by = 1n): ShamirShare => ({ ...s, y: numberToBytesBE(mod(bytesToNumberBE(s.y) + by), SHAMIR_SHARE_BYTES) });
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);


describe('lagrangeAtZero: f(0) = Σ λ_i f(x_i)', () => {
  it.each([
    ['1, 2, 3', [1n, 2n, 3n], [3n, -3n, 1n]],
    ['1, 2, 4', [1n, 2n, 4n], [mod(8n * inverse(3n)), -2n, inverse(3n)]],
    ['2, 5', [2n, 5n], [mod(5n * inverse(3n)), mod(-2n * inverse(3n))]],
    ['7 alone', [7n], [1n]],
  ])('points %s', (_name, xs, expected) => {
    const lambda = lagrangeAtZero(xs);
    expect(lambda).toEqual(expected.map(mod));
    expect(mod(lambda.reduce((a, b) => a + b, 0n))).toBe(1n); // a constant polynomial
  });

  it('interpolates a quadratic at 0 exactly', () => {
    const f = (x: bigint) => mod(5n + 3n * x + 11n * x * x);
    const xs = [3n, 9n, 2n ** 31n];
    const lambda = lagrangeAtZero(xs);
    expect(mod(xs.reduce((acc, x, i) => acc + lambda[i] * f(x), 0n))).toBe(5n);
  });
});

describe('recoverVerified', () => {
  const shares = split(secret, 5, 3, randomBytes);

  it('honest shares: the secret from the first t, nothing found wrong; the coefficients are cached per set of points', () => {
    const cache: LagrangeCache = new Map();
    const calls: string[] = [];
    const r = recoverVerified(shares, (b) => (calls.push(hex(b)!), sameAsSecret(b)), cache);
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toBeUndefined();
    expect(calls).toEqual([hex(secret)]);
    expect([...cache.keys()]).toEqual(['1,2,3']);
    // Another secret shared at the same points reuses them.
    const other = split(Uint8Array.from(secret).reverse(), 5, 3, randomBytes);
    expect(hex(recoverVerified(other, () => true, cache)?.secret)).toBe(hex(Uint8Array.from(secret).reverse()));
    expect(cache.size).toBe(1);
  });

  it.each([0, 1, 2])('one wrong share among the first t (position %i): recovered from the others, its x named', (position) => {
    const tampered = shares.map((s, i) => (i === position ? moved(s) : s));
    const r = recoverVerified(tampered, sameAsSecret);
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toEqual([shares[position].x]);
  });

  it.each([3, 4])('one wrong share past the first t (position %i): the first t recover the secret, nothing named', (position) => {
    const r = recoverVerified(shares.map((s, i) => (i === position ? moved(s) : s)), sameAsSecret);
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toBeUndefined();
  });

  it('the shares in another order: the first t of that order, the wrong one named by its x', () => {
    const order = [4, 2, 0, 3, 1];
    const r = recoverVerified(order.map((i) => (i === 2 ? moved(shares[i], 5n) : shares[i])), sameAsSecret);
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toEqual([3]);
  });

  it('exactly t shares and one wrong: undefined (nothing to recover it from)', () => {
    expect(recoverVerified([moved(shares[0]), shares[1], shares[2]], sameAsSecret)).toBeUndefined();
    expect(hex(recoverVerified(shares.slice(0, 3), sameAsSecret)?.secret)).toBe(hex(secret));
  });

  it('t + 1 shares and one wrong: found', () => {
    expect(recoverVerified([shares[0], moved(shares[1]), shares[2], shares[3]], sameAsSecret)?.wrongShareXs).toEqual([2]);
  });

  it('one wrong among the first t and another past t + 1: both found, the secret recovered', () => {
    const six = split(secret, 6, 3, randomBytes);
    const r = recoverVerified(six.map((s, i) => (i === 1 || i === 5 ? moved(s) : s)), sameAsSecret);
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toEqual([2, 6]);
  });

  it('two wrong of seven (t = 3) given in descending order: Reed–Solomon decoding finds both, named by ascending x', () => {
    const seven = split(secret, 7, 3, randomBytes);
    // Given as x = 7, 6, …, 1 with the shares at x = 7 and x = 3 moved: the first three (7, 6, 5) hold a wrong one,
    // and decoding (bound ⌊(7 − 3)/2⌋ = 2) finds them at indices 0 and 4.
    const given = [...seven].reverse().map((s) => (s.x === 7 || s.x === 3 ? moved(s, 1000n + BigInt(s.x)) : s));
    const offered: string[] = [];
    const r = recoverVerified(given, (b) => (offered.push(hex(b)!), sameAsSecret(b)));
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toEqual([3, 7]);
    expect(offered).toHaveLength(2); // the first three's secret, then the decoded polynomial's: no subset search
  });

  it('the cache is consulted: coefficients cached for a set of points are the ones used', () => {
    const cache: LagrangeCache = new Map([['1,2,3', [0n, 0n, 0n]]]); // wrong on purpose: every secret is then 0
    const offered: string[] = [];
    expect(recoverVerified(shares, (b) => (offered.push(hex(b)!), false), cache)).toBeUndefined();
    expect(offered[0]).toBe('00'.repeat(32));
  });

  it('a polynomial whose constant is exactly 2^256 (one past a 32-byte secret) is never offered to the check', () => {
    const f = (x: bigint) => mod(2n ** 256n + 5n * x + 7n * x * x);
    const points: ShamirShare[] = [1, 2, 3].map((x) => ({ x, y: numberToBytesBE(f(BigInt(x)), SHAMIR_SHARE_BYTES), threshold: 3, secretLength: 32 }));
    let offered = 0;
    expect(recoverVerified(points, () => (offered++, true))).toBeUndefined();
    expect(offered).toBe(0);
    // 2^256 − 1 fits: offered, and accepted.
    const g = (x: bigint) => mod(2n ** 256n - 1n + 5n * x + 7n * x * x);
    const fits = [1, 2, 3].map((x) => ({ x, y: numberToBytesBE(g(BigInt(x)), SHAMIR_SHARE_BYTES), threshold: 3, secretLength: 32 }));
    expect(hex(recoverVerified(fits, () => true)?.secret)).toBe('ff'.repeat(32));
  });

  it('two wrong among the first t + 1 of five: another set of three finds the secret, both named', () => {
    const r = recoverVerified(shares.map((s, i) => (i === 0 || i === 3 ? moved(s) : s)), sameAsSecret);
    expect(hex(r?.secret)).toBe(hex(secret));
    expect(r?.wrongShareXs).toEqual([1, 4]);
  });

  it('three wrong of five (threshold 3): only two right, undefined', () => {
    // Moved by unrelated amounts: equal moves can cancel at 0 (shares 1 and 4 moved by 1 each leave the secret of
    // {1, 4, 5} unchanged, as λ_5 = 1 there), and so can moves proportional to x (c·x on {1, 3, 4} is a polynomial).
    const by = new Map([[0, 1_000_003n], [2, 7n], [3, 2n ** 100n]]);
    expect(recoverVerified(shares.map((s, i) => (by.has(i) ? moved(s, by.get(i)) : s)), sameAsSecret)).toBeUndefined();
  });

  it('an owner whose shares are not of the secret it committed to: undefined', () => {
    expect(recoverVerified(shares, () => false)).toBeUndefined();
  });

  it('a wrong share whose interpolation does not fit the secret’s length is never offered to the check', () => {
    const offered: number[] = [];
    // Share 2 moved by 2^300: the secret from shares 1, 2, 3 moves by −3·2^300 mod p, far past 32 bytes.
    const r = recoverVerified([shares[0], moved(shares[1], 2n ** 300n), shares[2], shares[3]], (b) => (offered.push(b.length), sameAsSecret(b)));
    expect(r?.wrongShareXs).toEqual([2]);
    expect(offered.every((n) => n === 32)).toBe(true);
  });

  it('refuses what finish never passes it: too few shares, repeated points, values off the field, mixed splits', () => {
    expect(thrownCodeAndMessage(() => recoverVerified(shares.slice(0, 2), sameAsSecret))).toEqual({ code: 'quorum_not_met', message: '2 shares cannot recover a secret shared with threshold 3' });
    expect(thrownCodeAndMessage(() => recoverVerified([], sameAsSecret))).toEqual({ code: 'quorum_not_met', message: '0 shares cannot recover a secret shared with threshold 0' });
    expect(thrownCodeAndMessage(() => recoverVerified([shares[0], shares[1], shares[1]], sameAsSecret))).toEqual({ code: 'malformed_payload', message: 'two shares have the same x' });
    expect(thrownCodeAndMessage(() => recoverVerified([shares[0], shares[1], { ...shares[2], y: numberToBytesBE(P, SHAMIR_SHARE_BYTES) }], sameAsSecret))).toEqual({ code: 'malformed_payload', message: 'a share value is not a field element' });
    expect(thrownCodeAndMessage(() => recoverVerified([shares[0], shares[1], { ...shares[2], y: shares[2].y.slice(1) }], sameAsSecret))).toEqual({ code: 'malformed_payload', message: 'a share value is not a field element' });
    expect(thrownCodeAndMessage(() => recoverVerified([shares[0], shares[1], { ...shares[2], threshold: 2 }], sameAsSecret))).toEqual({ code: 'malformed_payload', message: 'shares come from different splits' });
    expect(thrownCodeAndMessage(() => recoverVerified([shares[0], shares[1], { ...shares[2], secretLength: 16 }], sameAsSecret))).toEqual({ code: 'malformed_payload', message: 'shares come from different splits' });
  });
});
