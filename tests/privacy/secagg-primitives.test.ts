import { describe, expect, it } from 'vitest';
import { combine, split, splitAt, SHAMIR_SHARE_BYTES } from '../../shared/src/privacy/shamir.ts';
import { dequantize, fixedPointConfig, fixedPointSumError, quantize } from '../../shared/src/privacy/fixed-point.ts';
import { agreeKey, applyMask, expandMask, generateKeyPair, openFrom, sealFor, selfMaskCommitment } from '../../shared/src/privacy/secagg-crypto.ts';
import { createHash } from 'node:crypto';
import { ChaChaRandom } from '../../shared/src/privacy/chacha-random.ts';
import { secAggTopology } from '../../shared/src/privacy/secagg-config.ts';
import { isFedtuneError } from '../../shared/src/errors.ts';

const rng = () => new ChaChaRandom(new Uint8Array(32).fill(9));

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isFedtuneError(err) ? err.code : `not a FedtuneError: ${String(err)}`;
  }
  return undefined;
}

describe('Shamir secret sharing over GF(2^521 − 1)', () => {
  it('any t of n shares recover a 32-byte secret', () => {
    const r = rng();
    const secret = r.bytes(32);
    const shares = split(secret, 7, 4, r.randomBytes);
    expect(shares).toHaveLength(7);
    expect(shares[0].y).toHaveLength(SHAMIR_SHARE_BYTES);
    for (const subset of [[0, 1, 2, 3], [3, 4, 5, 6], [6, 0, 4, 2], [0, 1, 2, 3, 4, 5, 6]]) {
      expect(combine(subset.map((i) => shares[i]))).toEqual(secret);
    }
    const leading = new Uint8Array(32); // secrets with leading zero bytes keep their length
    leading[31] = 1;
    expect(combine(split(leading, 3, 2, r.randomBytes).slice(1))).toEqual(leading);
  });

  it('fewer than t shares are refused (quorum_not_met), inconsistent extra shares are detected', () => {
    const r = rng();
    const shares = splitAt(r.bytes(32), [2, 5, 9, 11, 12], 3, r.randomBytes);
    expect(code(() => combine(shares.slice(0, 2)))).toBe('quorum_not_met');
    const tampered = shares.map((s) => ({ ...s, y: s.y.slice() }));
    tampered[4].y[40] ^= 1;
    expect(code(() => combine(tampered))).toBe('malformed_payload');
    expect(code(() => combine([shares[0], shares[0], shares[1]]))).toBe('malformed_payload');
  });

  it('t − 1 shares say nothing: every candidate secret is consistent with them', () => {
    // With t = 2, one share (x, y) fits a line through (0, s) for every s: the share's distribution does
    // not depend on the secret. Check that two different secrets give different, uniform-looking shares.
    const r = rng();
    const a = split(new Uint8Array(32), 3, 2, r.randomBytes)[0].y;
    const b = split(new Uint8Array(32).fill(255), 3, 2, r.randomBytes)[0].y;
    expect(a).not.toEqual(b);
    expect(a.slice(1).some((v) => v !== 0)).toBe(true);
  });
});

describe('fixed point mod 2^32', () => {
  it('sums of quantized weighted updates decode to the weighted sum within n/(2s)', () => {
    const fp = fixedPointConfig({ sites: 8 });
    const r = rng();
    const updates = Array.from({ length: 8 }, () => [Float32Array.from({ length: 1000 }, () => 2 * r.next() - 1)]);
    const weights = Array.from({ length: 8 }, (_, k) => (k + 1) / 36);
    const acc = new Uint32Array(1001);
    updates.forEach((u, k) => quantize(u, weights[k], fp).data.forEach((v, i) => (acc[i] += v)));
    const d = dequantize(acc, [1000], fp);
    expect(d.totalWeight).toBeCloseTo(1, 7);
    let err = 0;
    for (let i = 0; i < 1000; i++) err = Math.max(err, Math.abs(d.weightedSum[0][i] - updates.reduce((s, u, k) => s + weights[k] * u[0][i], 0)));
    expect(err).toBeLessThanOrEqual(fixedPointSumError(fp, 8) + 1e-7); // + float32 rounding of the output
    expect(fixedPointSumError(fp, 8)).toBeLessThan(1e-7);
  });

  it('negative values wrap as two’s complement; out-of-range values are clamped and counted', () => {
    const fp = fixedPointConfig({ sites: 2, range: 1 });
    const q = quantize([Float32Array.from([-0.5, 3, -7])], 1, fp);
    expect(q.clamped).toBe(2);
    expect(q.data[0]).toBeGreaterThan(2 ** 31);
    const d = dequantize(q.data, [3], fp);
    expect(Array.from(d.mean[0]).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([-0.5, 1, -1]);
    expect(code(() => quantize([Float32Array.from([0])], 1.5, fp))).toBe('config');
  });
});

describe('secure aggregation crypto (@noble)', () => {
  it('X25519 + HKDF: both sides of a pair derive the same key; purposes, rounds and pairs differ', () => {
    const r = rng();
    const a = generateKeyPair(r.randomBytes);
    const b = generateKeyPair(r.randomBytes);
    const c = generateKeyPair(r.randomBytes);
    const ab = agreeKey(a.secretKey, b.publicKey, 'mask', 3, 'a', 'b');
    expect(agreeKey(b.secretKey, a.publicKey, 'mask', 3, 'b', 'a')).toEqual(ab);
    expect(agreeKey(a.secretKey, b.publicKey, 'encrypt', 3, 'a', 'b')).not.toEqual(ab);
    expect(agreeKey(a.secretKey, b.publicKey, 'mask', 4, 'a', 'b')).not.toEqual(ab);
    expect(agreeKey(a.secretKey, c.publicKey, 'mask', 3, 'a', 'c')).not.toEqual(ab);
    expect(code(() => agreeKey(a.secretKey, new Uint8Array(32), 'mask', 3, 'a', 'z'))).toBe('malformed_payload'); // low-order point
  });

  it('the ChaCha20 PRG is deterministic per seed, uniform-looking, and masks cancel mod 2^32', () => {
    const seed = new Uint8Array(32);
    expect(expandMask(seed, 2)[0]).toBe(0xade0b876); // RFC 8439 §2.3.2 keystream of the zero key, first word
    const m = expandMask(rng().bytes(32), 100_000);
    const mean = m.reduce((s, v) => s + v, 0) / m.length;
    expect(Math.abs(mean / 2 ** 32 - 0.5)).toBeLessThan(0.005);
    const x = Uint32Array.from([1, 2, 3, 0xffffffff]);
    const s = rng().bytes(32);
    applyMask(x, s, 1);
    expect(Array.from(x)).not.toEqual([1, 2, 3, 0xffffffff]);
    applyMask(x, s, -1);
    expect(Array.from(x)).toEqual([1, 2, 3, 0xffffffff]);
  });

  it('shares are sealed with ChaCha20-Poly1305: the coordinator cannot read, alter or redirect them', () => {
    const r = rng();
    const key = r.bytes(32);
    const msg = r.bytes(132);
    const { nonce, ciphertext } = sealFor(key, 1, 'a', 'b', msg, r.randomBytes);
    expect(openFrom(key, 1, 'a', 'b', nonce, ciphertext)).toEqual(msg);
    expect(code(() => openFrom(key, 1, 'a', 'c', nonce, ciphertext))).toBe('malformed_payload');
    expect(code(() => openFrom(key, 2, 'a', 'b', nonce, ciphertext))).toBe('malformed_payload');
    const altered = ciphertext.slice();
    altered[0] ^= 1;
    expect(code(() => openFrom(key, 1, 'a', 'b', nonce, altered))).toBe('malformed_payload');
  });
});

describe('round topology', () => {
  const fp = fixedPointConfig({ sites: 10 });
  const sites = Array.from({ length: 10 }, (_, k) => `s${k}`);
  it('everyone is everyone’s neighbour by default; SecAgg+ rings are symmetric with k + 1 members', () => {
    const all = secAggTopology({ round: 1, sites, threshold: 6, vectorLength: 4, fixedPoint: fp });
    expect([...all.neighbourhood.get('s3')!].sort()).toEqual(sites);
    const ring = secAggTopology({ round: 1, sites, threshold: 3, neighbours: 4, vectorLength: 4, fixedPoint: fp });
    for (const [s, n] of ring.neighbourhood) {
      expect(n.size).toBe(5);
      expect(n.has(s)).toBe(true);
      for (const v of n) expect(ring.neighbourhood.get(v)!.has(s)).toBe(true);
    }
  });

  it('refuses thresholds that are not a majority of a neighbourhood', () => {
    expect(code(() => secAggTopology({ round: 1, sites, threshold: 5, vectorLength: 4, fixedPoint: fp }))).toBe('config');
    expect(code(() => secAggTopology({ round: 1, sites, threshold: 11, vectorLength: 4, fixedPoint: fp }))).toBe('config');
    expect(code(() => secAggTopology({ round: 1, sites, threshold: 2, neighbours: 4, vectorLength: 4, fixedPoint: fp }))).toBe('config');
    expect(code(() => secAggTopology({ round: 1, sites: ['a', 'a'], threshold: 2, vectorLength: 4, fixedPoint: fp }))).toBe('config');
  });
});

describe('selfMaskCommitment: SHA-256 of the domain, round, site id and seed', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  it('is the SHA-256 of "fedtune/secagg/v1/self-mask-commitment/<round>/<site>/" then the seed', () => {
    const expected = createHash('sha256').update('fedtune/secagg/v1/self-mask-commitment/3/site-a/').update(seed).digest();
    expect(Buffer.from(selfMaskCommitment(seed, 3, 'site-a')).toString('hex')).toBe(expected.toString('hex'));
  });
  it('changes with the seed, the round and the site', () => {
    const base = Buffer.from(selfMaskCommitment(seed, 3, 'site-a')).toString('hex');
    const other = Uint8Array.from(seed);
    other[31] ^= 1;
    for (const c of [selfMaskCommitment(other, 3, 'site-a'), selfMaskCommitment(seed, 4, 'site-a'), selfMaskCommitment(seed, 3, 'site-b')]) expect(Buffer.from(c).toString('hex')).not.toBe(base);
  });
});
