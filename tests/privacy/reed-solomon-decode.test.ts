import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeShares, divide, evaluate, interpolatePolynomial, type Polynomial } from '../../shared/src/privacy/reed-solomon-decode.ts';

/**
 * reed-solomon-decode.ts: Shamir shares as a Reed–Solomon codeword, decoded by Gao's algorithm — the polynomial
 * of degree < t found when at most ⌊(n − t)/2⌋ shares are wrong, and exactly which ones are.
 */
const P = 2n ** 521n - 1n;
const mod = (v: bigint) => ((v % P) + P) % P;
/** The plain definition, as the oracle: Σ a_i x^i mod p. */
const at = (a: Polynomial, x: bigint) => mod(a.reduce((acc, c, i) => acc + c * x ** BigInt(i), 0n));

const coefficient = fc.bigInt({ min: 0n, max: P - 1n });
/** Distinct share points 1 … 2^31 (as secagg's), n of them. */
const points = (n: number) => fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 31 }), { minLength: n, maxLength: n }).map((xs) => xs.map(BigInt));

describe('polynomial arithmetic over GF(2^521 − 1)', () => {
  it('evaluate is Horner of the coefficients (lowest degree first)', () => {
    expect(evaluate([5n, 3n, 11n], 2n)).toBe(5n + 6n + 44n);
    expect(evaluate([], 7n)).toBe(0n);
    expect(evaluate([P - 1n, 1n], 1n)).toBe(0n);
  });

  it('divide: q·b + r = a with deg r < deg b', () => {
    fc.assert(
      fc.property(fc.array(coefficient, { minLength: 1, maxLength: 9 }), fc.array(coefficient, { minLength: 1, maxLength: 5 }), fc.bigInt({ min: 0n, max: 2n ** 64n }), (a, b, x) => {
        if (b[b.length - 1] === 0n) b[b.length - 1] = 1n;
        const { quotient, remainder } = divide(a, b);
        expect(remainder.length).toBeLessThan(b.length);
        expect(remainder.at(-1) ?? 1n).not.toBe(0n);
        expect(quotient.at(-1) ?? 1n).not.toBe(0n);
        expect(mod(at(quotient, x) * at(b, x) + at(remainder, x))).toBe(at(a, x));
      }),
      { numRuns: 200 },
    );
    expect(divide([1n, 2n], [0n, 0n, 1n])).toEqual({ quotient: [], remainder: [1n, 2n] });
    expect(divide([0n, 0n, 0n], [1n, 1n])).toEqual({ quotient: [], remainder: [] });
  });

  it('interpolatePolynomial: the unique polynomial of degree < n through n points', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }).chain((n) => fc.tuple(fc.array(coefficient, { minLength: n, maxLength: n }), points(n))), ([f, xs]) => {
        const got = interpolatePolynomial(xs.map((x) => ({ x, y: at(f, x) })));
        let top = f.length;
        while (top > 0 && f[top - 1] === 0n) top--;
        expect(got).toEqual(f.slice(0, top));
      }),
      { numRuns: 200 },
    );
    expect(interpolatePolynomial([{ x: 3n, y: 0n }, { x: 5n, y: 0n }])).toEqual([]);
  });
});

describe('decodeShares (Gao)', () => {
  /** n shares of a random polynomial of degree < t, `wrong` of them (distinct positions) moved by a non-zero amount. */
  const codeword = fc
    .record({ n: fc.integer({ min: 1, max: 14 }), t: fc.integer({ min: 1, max: 14 }) })
    .filter(({ n, t }) => t <= n)
    .chain(({ n, t }) =>
      fc.record({
        t: fc.constant(t),
        f: fc.array(coefficient, { minLength: t, maxLength: t }),
        xs: points(n),
        errors: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: n }),
        moves: fc.array(fc.bigInt({ min: 1n, max: P - 1n }), { minLength: n, maxLength: n }),
      }),
    );

  it('within ⌊(n − t)/2⌋ wrong shares: the polynomial, and exactly the wrong ones', () => {
    fc.assert(
      fc.property(codeword, ({ t, f, xs, errors, moves }) => {
        const n = xs.length;
        const wrong = errors.slice(0, Math.floor((n - t) / 2)).sort((a, b) => a - b);
        const received = xs.map((x, i) => ({ x, y: wrong.includes(i) ? mod(at(f, x) + moves[i]) : at(f, x) }));
        const decoded = decodeShares(received, t);
        let top = f.length;
        while (top > 0 && f[top - 1] === 0n) top--;
        expect(decoded).toEqual({ polynomial: f.slice(0, top), wrong });
      }),
      { numRuns: 300 },
    );
  });

  it('past the bound: never a polynomial farther than ⌊(n − t)/2⌋ from the shares', () => {
    fc.assert(
      fc.property(codeword, ({ t, f, xs, errors, moves }) => {
        const n = xs.length;
        const received = xs.map((x, i) => ({ x, y: errors.includes(i) ? mod(at(f, x) + moves[i]) : at(f, x) }));
        const decoded = decodeShares(received, t);
        if (decoded) {
          expect(decoded.polynomial.length).toBeLessThanOrEqual(t);
          const off = received.map((p, i) => (at(decoded.polynomial, p.x) === p.y ? -1 : i)).filter((i) => i >= 0);
          expect(decoded.wrong).toEqual(off);
          expect(2 * off.length).toBeLessThanOrEqual(n - t);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('examples at the edges', () => {
    const f = [7n, 0n, 2n]; // degree 2: t = 3
    const shares = (n: number) => Array.from({ length: n }, (_, i) => ({ x: BigInt(i + 1), y: at(f, BigInt(i + 1)) }));
    // n = t: nothing to correct, the interpolant itself.
    expect(decodeShares(shares(3), 3)).toEqual({ polynomial: f, wrong: [] });
    // n = t + 1: still none — one wrong share makes the interpolant degree 3, refused.
    const four = shares(4);
    four[1] = { ...four[1], y: four[1].y + 1n };
    expect(decodeShares(four, 3)).toBeUndefined();
    // n = t + 2: one.
    const five = shares(5);
    five[4] = { ...five[4], y: 0n };
    expect(decodeShares(five, 3)).toEqual({ polynomial: f, wrong: [4] });
    // n = 7, t = 3: two; a third is too many.
    const seven = shares(7);
    seven[0] = { ...seven[0], y: 1n };
    seven[6] = { ...seven[6], y: 2n };
    expect(decodeShares(seven, 3)).toEqual({ polynomial: f, wrong: [0, 6] });
    seven[3] = { ...seven[3], y: 3n };
    expect(decodeShares(seven, 3)?.polynomial).not.toEqual(f);
    // No shares, or a threshold past them: nothing.
    expect(decodeShares([], 1)).toBeUndefined();
    expect(decodeShares(shares(2), 3)).toBeUndefined();
    expect(decodeShares(shares(2), 0)).toBeUndefined();
    // A constant polynomial (t = 1) from 5 shares, 2 wrong.
    const constant = [1, 2, 3, 4, 5].map((x) => ({ x: BigInt(x), y: x === 2 || x === 5 ? 9n : 4n }));
    expect(decodeShares(constant, 1)).toEqual({ polynomial: [4n], wrong: [1, 4] });
    // The zero polynomial.
    expect(decodeShares([1, 2, 3].map((x) => ({ x: BigInt(x), y: 0n })), 2)).toEqual({ polynomial: [], wrong: [] });
  });

  it('100 shares, threshold 51, 24 wrong: decoded (the cost the doc quotes)', () => {
    const t = 51;
    const f = Array.from({ length: t }, (_, i) => mod(BigInt(i + 1) * 0x9e3779b97f4a7c15n ** 3n));
    const received = Array.from({ length: 100 }, (_, i) => {
      const x = BigInt(i + 1);
      return { x, y: i % 4 === 1 && i < 96 ? mod(at(f, x) + BigInt(i)) : at(f, x) };
    });
    const decoded = decodeShares(received, t);
    expect(decoded?.polynomial).toEqual(f);
    expect(decoded?.wrong).toEqual(Array.from({ length: 24 }, (_, k) => 4 * k + 1));
    // One more is past the bound.
    received[97] = { ...received[97], y: mod(received[97].y + 1n) };
    expect(decodeShares(received, t)?.polynomial).not.toEqual(f);
  });
});
