import { describe, expect, it } from 'vitest';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';
import { dequantize, fixedPointConfig, fixedPointSumError, quantize } from '../../shared/src/privacy/fixed-point.ts';
import { combine, SHAMIR_SHARE_BYTES, split, splitAt, type ShamirShare } from '../../shared/src/privacy/shamir.ts';

/** A field element as a share value: 66 bytes, big-endian. */
function be(v: bigint): Uint8Array {
  const out = new Uint8Array(SHAMIR_SHARE_BYTES);
  for (let i = SHAMIR_SHARE_BYTES - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** A randomBytes that hands out the given blocks in turn. */
function scripted(...blocks: Uint8Array[]) {
  let k = 0;
  return (n: number) => {
    const b = blocks[k++];
    expect(b.length).toBe(n);
    return new Uint8Array(b);
  };
}

const P = 2n ** 521n - 1n;

describe('fixed point: exact encoding', () => {
  it('scale = (2^31 − 1 − n) / (max(R, 1) · W), defaults R = 16 and W = 1', () => {
    expect(fixedPointConfig({ sites: 8 })).toEqual({ range: 16, maxTotalWeight: 1, scale: (2 ** 31 - 1 - 8) / 16 });
    expect(fixedPointConfig({ sites: 3, range: 0.25, maxTotalWeight: 4 })).toEqual({ range: 0.25, maxTotalWeight: 4, scale: (2 ** 31 - 4) / 4 });
    expect(fixedPointConfig({ sites: 2 ** 20 - 1, range: 2 }).scale).toBe((2 ** 31 - 2 ** 20) / 2);
    const fp = fixedPointConfig({ sites: 5 });
    expect(fixedPointSumError(fp, 5)).toBe(5 / (2 * fp.scale));
  });

  it('refuses a range, a total weight or a site count it cannot honour, saying which', () => {
    for (const range of [0, -1, Number.NaN, Infinity]) expect(thrownCodeAndMessage(() => fixedPointConfig({ sites: 2, range }))).toEqual({ code: 'config', message: `fixed-point range must be > 0, got ${range}` });
    for (const w of [0, -2, Infinity]) expect(thrownCodeAndMessage(() => fixedPointConfig({ sites: 2, maxTotalWeight: w }))).toEqual({ code: 'config', message: `max total weight must be > 0, got ${w}` });
    for (const sites of [0, 1.5, 2 ** 20]) expect(thrownCodeAndMessage(() => fixedPointConfig({ sites }))).toEqual({ code: 'config', message: `sites must be an integer in [1, 2^20), got ${sites}` });
    expect(fixedPointConfig({ sites: 1 }).scale).toBe((2 ** 31 - 2) / 16);
  });

  it('sends round(s·w·x) as uint32 (two’s complement), then round(s·w); ±R are kept, beyond is clamped and counted', () => {
    const fp = fixedPointConfig({ sites: 1, range: 2, maxTotalWeight: 2 });
    const s = fp.scale;
    const w = 0.5;
    const q = quantize([Float32Array.from([1, -1, 2, -2]), Float32Array.from([2.5, -Infinity, 0])], w, fp);
    const expected = [1, -1, 2, -2, 2, -2, 0].map((v) => Math.round(w * s * v) >>> 0);
    expect(Array.from(q.data)).toEqual([...expected, Math.round(w * s)]);
    expect(q.clamped).toBe(2);
    expect(quantize([], 1, fp)).toEqual({ data: Uint32Array.from([Math.round(s)]), clamped: 0 });
  });

  it('takes weights in [0, W] only, and refuses a NaN coordinate with non_finite', () => {
    const fp = fixedPointConfig({ sites: 1, maxTotalWeight: 3 });
    expect(Array.from(quantize([Float32Array.from([5])], 0, fp).data)).toEqual([0, 0]);
    expect(quantize([Float32Array.from([1])], 3, fp).data[1]).toBe(Math.round(3 * fp.scale));
    for (const w of [-0.001, 3.0001, Number.NaN]) expect(thrownCodeAndMessage(() => quantize([Float32Array.from([1])], w, fp))).toEqual({ code: 'config', message: `weight must be in [0, 3], got ${w}` });
    expect(thrownCodeAndMessage(() => quantize([Float32Array.from([1, Number.NaN])], 1, fp))).toEqual({ code: 'non_finite', message: 'the update has a NaN' });
  });

  it('decodes a sum: Σw·x per tensor, Σw, and the mean; zeros for the mean when Σw = 0', () => {
    const fp = fixedPointConfig({ sites: 2, range: 4 });
    const a = quantize([Float32Array.from([1, -2]), Float32Array.from([3])], 0.25, fp).data;
    const b = quantize([Float32Array.from([-3, 2]), Float32Array.from([1])], 0.5, fp).data;
    const sum = a.map((v, i) => v + b[i]);
    const d = dequantize(sum, [2, 1], fp);
    expect(d.totalWeight).toBeCloseTo(0.75, 8);
    expect(Array.from(d.weightedSum[0])).toEqual([-1.25, 0.5].map((v) => expect.closeTo(v, 6)));
    expect(Array.from(d.weightedSum[1])).toEqual([expect.closeTo(1.25, 6)]);
    expect(Array.from(d.mean[0])).toEqual([-1.25 / 0.75, 0.5 / 0.75].map((v) => expect.closeTo(v, 6)));
    expect(Array.from(d.mean[1])).toEqual([expect.closeTo(1.25 / 0.75, 6)]);
    const none = dequantize(quantize([Float32Array.from([1, 2, 3])], 0, fp).data, [3], fp);
    expect(none.totalWeight).toBe(0);
    expect(Array.from(none.mean[0])).toEqual([0, 0, 0]);
    // A view into a larger buffer decodes its own values.
    const padded = new Uint32Array(5);
    padded.set(quantize([Float32Array.from([-1, 1])], 1, fp).data, 2);
    expect(Array.from(dequantize(padded.subarray(2), [2], fp).mean[0])).toEqual([expect.closeTo(-1, 6), expect.closeTo(1, 6)]);
  });

  it('refuses a vector of another length', () => {
    const fp = fixedPointConfig({ sites: 2 });
    expect(thrownCodeAndMessage(() => dequantize(new Uint32Array(4), [2, 2], fp))).toEqual({ code: 'shape_mismatch', message: 'fixed-point vector has 4 values, expected 5' });
    expect(thrownCodeAndMessage(() => dequantize(new Uint32Array(6), [2, 2], fp)).code).toBe('shape_mismatch');
  });
});

describe('Shamir: exact shares and every refusal', () => {
  it('threshold 1: every share is the secret itself', () => {
    const shares = split(Uint8Array.from([1, 2]), 3, 1, scripted());
    expect(shares.map((s) => [s.x, s.threshold, s.secretLength])).toEqual([[1, 1, 2], [2, 1, 2], [3, 1, 2]]);
    for (const s of shares) expect(s.y).toEqual(be(0x0102n));
    expect(combine([shares[2]])).toEqual(Uint8Array.from([1, 2]));
    expect(split(Uint8Array.from([9]), 1, 1, scripted()).map((sh) => [sh.x, sh.y])).toEqual([[1, be(9n)]]);
  });

  it('threshold 2: share x is s + c·x for the random coefficient c, drawn below p from 521 bits', () => {
    // The first draw has its top byte masked to 0x01 & 0xfe = 0, so c = 5; an unmasked draw would be ≥ p and redrawn.
    const first = new Uint8Array(SHAMIR_SHARE_BYTES);
    first[0] = 0xfe;
    first[SHAMIR_SHARE_BYTES - 1] = 5;
    const other = new Uint8Array(SHAMIR_SHARE_BYTES);
    other[SHAMIR_SHARE_BYTES - 1] = 9;
    const shares = splitAt(Uint8Array.from([7]), [3, 10, 1], 2, scripted(first, other));
    expect(shares.map((s) => s.y)).toEqual([be(7n + 15n), be(7n + 50n), be(7n + 5n)]);
    expect(combine([shares[1], shares[0]])).toEqual(Uint8Array.from([7]));
    expect(combine(shares)).toEqual(Uint8Array.from([7]));
  });

  it('a draw equal to p is rejected and drawn again (coefficients are uniform in [0, p))', () => {
    const pBytes = new Uint8Array(SHAMIR_SHARE_BYTES).fill(0xff); // masked to 2^521 − 1 = p
    const two = new Uint8Array(SHAMIR_SHARE_BYTES);
    two[SHAMIR_SHARE_BYTES - 1] = 2;
    const shares = splitAt(Uint8Array.from([0]), [1, 2], 2, scripted(pBytes, two));
    expect(shares.map((s) => s.y)).toEqual([be(2n), be(4n)]);
  });

  it('threshold 3 interpolates through non-consecutive points, and any 3 of 5 recover the secret', () => {
    const secret = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const c1 = new Uint8Array(SHAMIR_SHARE_BYTES).fill(0x33);
    const c2 = new Uint8Array(SHAMIR_SHARE_BYTES).fill(0x77);
    const shares = splitAt(secret, [2, 5, 9, 11, 40], 3, scripted(c1, c2));
    const s = BigInt(`0x${Buffer.from(secret).toString('hex')}`);
    const a = BigInt(`0x${Buffer.from(c1).toString('hex')}`) & ((1n << 521n) - 1n);
    const b = BigInt(`0x${Buffer.from(c2).toString('hex')}`) & ((1n << 521n) - 1n);
    expect(shares[2].y).toEqual(be((s + a * 9n + b * 81n) % P));
    for (const pick of [[0, 1, 2], [4, 3, 0], [1, 3, 4], [2, 4, 1]]) expect(combine(pick.map((k) => shares[k]))).toEqual(secret);
  });

  it('split refuses bad secrets, thresholds, points and counts with config errors that say why', () => {
    const r = scripted();
    expect(thrownCodeAndMessage(() => split(new Uint8Array(0), 3, 2, r))).toEqual({ code: 'config', message: 'a secret must be 1–65 bytes, got 0' });
    expect(thrownCodeAndMessage(() => split(new Uint8Array(66), 3, 2, r))).toEqual({ code: 'config', message: 'a secret must be 1–65 bytes, got 66' });
    expect(split(new Uint8Array(65).fill(1), 2, 1, r)).toHaveLength(2);
    for (const t of [0, 4, 1.5]) expect(thrownCodeAndMessage(() => split(Uint8Array.from([1]), 3, t, r))).toEqual({ code: 'config', message: `threshold must be an integer in [1, 3], got ${t}` });
    for (const n of [0, 2.5]) expect(thrownCodeAndMessage(() => split(Uint8Array.from([1]), n, 1, r))).toEqual({ code: 'config', message: `number of shares must be an integer ≥ 1, got ${n}` });
    for (const x of [0, 1.5, 2 ** 31 + 1]) expect(thrownCodeAndMessage(() => splitAt(Uint8Array.from([1]), [x], 1, r))).toEqual({ code: 'config', message: `a share's x must be an integer in [1, 2^31], got ${x}` });
    expect(splitAt(Uint8Array.from([1]), [2 ** 31], 1, r)[0].x).toBe(2 ** 31);
    expect(thrownCodeAndMessage(() => splitAt(Uint8Array.from([1]), [4, 4], 1, r))).toEqual({ code: 'config', message: 'share points must be distinct' });
  });

  it('combine refuses what is not t consistent shares of one split', () => {
    const one = new Uint8Array(SHAMIR_SHARE_BYTES);
    one[SHAMIR_SHARE_BYTES - 1] = 1;
    const shares = splitAt(Uint8Array.from([7]), [1, 2, 3], 2, scripted(one)); // y = 7 + x
    const share = (over: Partial<ShamirShare>, base = shares[0]): ShamirShare => ({ ...base, ...over });
    expect(thrownCodeAndMessage(() => combine([]))).toEqual({ code: 'quorum_not_met', message: 'no shares to combine' });
    expect(thrownCodeAndMessage(() => combine([shares[0]]))).toEqual({ code: 'quorum_not_met', message: '1 shares cannot recover a secret shared with threshold 2' });
    expect(thrownCodeAndMessage(() => combine([shares[0], share({ threshold: 3 }, shares[1])]))).toEqual({ code: 'malformed_payload', message: 'shares come from different splits' });
    expect(thrownCodeAndMessage(() => combine([shares[0], share({ secretLength: 2 }, shares[1])])).message).toBe('shares come from different splits');
    expect(thrownCodeAndMessage(() => combine([shares[0], share({ x: 0 }, shares[1])])).code).toBe('config');
    expect(thrownCodeAndMessage(() => combine([shares[0], share({ y: new Uint8Array(65) }, shares[1])]))).toEqual({ code: 'malformed_payload', message: 'a share value is 66 bytes, got 65' });
    expect(thrownCodeAndMessage(() => combine([shares[0], share({}, shares[0])]))).toEqual({ code: 'malformed_payload', message: 'two shares have the same x' });
    expect(thrownCodeAndMessage(() => combine([shares[0], share({ y: be(P) }, shares[1])]))).toEqual({ code: 'malformed_payload', message: 'a share value is not a field element' });
    expect(combine([shares[0], share({ y: be(P - 1n) }, shares[1])])).toHaveLength(1); // p − 1 is a field element (whatever it decodes to)
    expect(thrownCodeAndMessage(() => combine([shares[0], shares[1], share({ y: be(11n) }, shares[2])]))).toEqual({ code: 'malformed_payload', message: 'share x=3 is inconsistent with the others' });
    expect(combine([shares[0], shares[1], shares[2]])).toEqual(Uint8Array.from([7]));
    // A line through (1, 255) and (2, 258) meets x = 0 at 252 < 256: fits one byte; through (1, 300), (2, 301) at 299: does not.
    expect(combine([share({ y: be(255n) }), share({ y: be(258n) }, shares[1])])).toEqual(Uint8Array.from([252]));
    expect(thrownCodeAndMessage(() => combine([share({ y: be(300n) }), share({ y: be(301n) }, shares[1])]))).toEqual({ code: 'malformed_payload', message: 'the recovered value does not fit the secret length' });
    expect(combine([share({ y: be(256n) }), share({ y: be(257n) }, shares[1])])).toEqual(Uint8Array.from([255]));
    // 2^8 itself does not fit one byte.
    expect(thrownCodeAndMessage(() => combine([share({ y: be(257n) }), share({ y: be(258n) }, shares[1])])).message).toBe('the recovered value does not fit the secret length');
  });
});
