import { describe, expect, it } from 'vitest';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';
import { erfc, logAdd, logErfc, logSub } from '../../shared/src/privacy/log-math.ts';
import {
  computeEpsilon,
  computeRdp,
  DEFAULT_RDP_ORDERS,
  noiseMultiplierForEpsilon,
  RdpAccountant,
  rdpToEpsilon,
  sampledGaussianRdp,
} from '../../shared/src/privacy/rdp-accountant.ts';

// Fast, closed-form checks of the accountant (rdp-accountant.test.ts holds the published reference values).

const improved = (a: number, r: number, delta: number) => r + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
const classic = (a: number, r: number, delta: number) => r - Math.log(delta) / (a - 1);

describe('log-space helpers', () => {
  it('logAdd is log(e^a + e^b), in either order, with −∞ as zero', () => {
    expect(logAdd(0, 0)).toBe(Math.LN2);
    expect(logAdd(Math.log(3), Math.log(5))).toBeCloseTo(Math.log(8), 15);
    expect(logAdd(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(8), 15);
    expect(logAdd(-Infinity, 2)).toBe(2);
    expect(logAdd(2, -Infinity)).toBe(2);
    expect(logAdd(1000, 0)).toBe(1000);
    // Both zero: the sum is zero (−∞ − −∞ is NaN, so the case is its own).
    expect(logAdd(-Infinity, -Infinity)).toBe(-Infinity);
  });

  it('logSub is log(e^a − e^b) for a ≥ b, −∞ for a = b, a when b is −∞ or negligible, and refuses a < b', () => {
    expect(logSub(Math.log(8), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logSub(Math.LN2, 0)).toBeCloseTo(0, 15);
    expect(logSub(3, 3)).toBe(-Infinity);
    expect(logSub(3, -Infinity)).toBe(3);
    expect(logSub(1000, 0)).toBe(1000);
    expect(logSub(-5, -705)).toBe(-5);
    expect(logSub(-Infinity, -Infinity)).toBe(-Infinity);
    expect(logSub(-700, -Infinity)).toBe(-700);
    expect(() => logSub(1, 2)).toThrow(new RangeError('logSub: the result would be negative'));
  });

  it('erfc and logErfc: NaN in, NaN out; erfc(−x) = 2 − erfc(x); the tail in log space', () => {
    expect(erfc(Number.NaN)).toBeNaN();
    expect(logErfc(Number.NaN)).toBeNaN();
    expect(erfc(0)).toBe(1);
    expect(erfc(-1)).toBeCloseTo(2 - 0.15729920705028513, 15);
    expect(erfc(1.9)).toBeCloseTo(0.007209570764742524, 15);
    expect(erfc(2.5) / 4.069520174449590e-4).toBeCloseTo(1, 13);
    expect(logErfc(1)).toBeCloseTo(Math.log(0.15729920705028513), 14);
    expect(logErfc(-1)).toBeCloseTo(Math.log(2 - 0.15729920705028513), 14);
    expect(logErfc(2.5)).toBeCloseTo(Math.log(4.06952017444959e-4), 12);
    expect(logErfc(30) / (-900 - Math.log(30 * Math.sqrt(Math.PI)) + Math.log1p(-1 / 1800 + 3 / (4 * 30 ** 4)))).toBeCloseTo(1, 10);
  });
});

describe('RDP of the sampled Gaussian mechanism, in closed form', () => {
  it('α = 2: log(1 + q²(e^{1/z²} − 1)); α = 3: the binomial sum, halved', () => {
    for (const [q, z] of [[0.1, 1], [0.01, 0.7], [0.5, 2], [0.9, 1.5]]) {
      expect(sampledGaussianRdp(q, z, 2), `q=${q} z=${z}`).toBeCloseTo(Math.log1p(q * q * Math.expm1(1 / (z * z))), 13);
      const a3 = (1 - q) ** 3 + 3 * (1 - q) ** 2 * q + 3 * (1 - q) * q * q * Math.exp(1 / (z * z)) + q ** 3 * Math.exp(3 / (z * z));
      expect(sampledGaussianRdp(q, z, 3), `q=${q} z=${z}`).toBeCloseTo(Math.log(a3) / 2, 13);
    }
  });

  it('q = 1 is α/(2z²); q = 0 is 0 even without noise; z = 0 is ∞', () => {
    expect(sampledGaussianRdp(1, 2, 3)).toBe(3 / 8);
    expect(sampledGaussianRdp(1, 0.5, 2.5)).toBe(5);
    expect(sampledGaussianRdp(0, 0, 2)).toBe(0);
    expect(sampledGaussianRdp(0.5, 0, 1.5)).toBe(Infinity);
  });

  it('a fractional order lies between its integer neighbours, close to them as it nears them', () => {
    const at = (a: number) => sampledGaussianRdp(0.05, 1.2, a);
    expect(at(2.5)).toBeGreaterThan(at(2));
    expect(at(2.5)).toBeLessThan(at(3));
    expect(at(2.000001)).toBeCloseTo(at(2), 7);
    expect(at(2.999999)).toBeCloseTo(at(3), 7);
    expect(at(7.999999)).toBeCloseTo(at(8), 6);
  });

  it('at small sampling rates too: the series runs until both of its terms are negligible, not one', () => {
    // At q = 1e-6 one of the two terms starts below e^−30: stopping there made the RDP of α = 2.5 negative.
    for (const q of [1e-6, 1e-4, 1e-3]) {
      for (const z of [0.5, 1, 4]) {
        const [r2, r25, r3] = [2, 2.5, 3].map((a) => sampledGaussianRdp(q, z, a));
        expect(r25, `q ${q}, z ${z}`).toBeGreaterThan(r2);
        expect(r25, `q ${q}, z ${z}`).toBeLessThan(r3);
      }
    }
  });

  it('refuses a sampling rate outside [0, 1], a negative or non-finite noise, orders ≤ 1, saying which', () => {
    for (const q of [-0.01, 1.01, Number.NaN, Infinity]) expect(thrownCodeAndMessage(() => sampledGaussianRdp(q, 1, 2))).toEqual({ code: 'config', message: `sampling rate must be a number in [0, 1], got ${q}` });
    for (const z of [-0.5, Number.NaN, Infinity]) expect(thrownCodeAndMessage(() => sampledGaussianRdp(0.1, z, 2))).toEqual({ code: 'config', message: `noise multiplier must be a finite number ≥ 0, got ${z}` });
    for (const a of [1, 0.5, Number.NaN, Infinity]) expect(thrownCodeAndMessage(() => sampledGaussianRdp(0.1, 1, a))).toEqual({ code: 'config', message: `RDP orders must be finite numbers > 1, got ${a}` });
    expect(sampledGaussianRdp(0.1, 1, 1.0001)).toBeGreaterThan(0);
  });

  it('computeRdp: steps × the one-step RDP per order; zero steps are zero even without noise', () => {
    expect(computeRdp(1, 2, 10, [2, 4])).toEqual([10 * (2 / 8), 10 * (4 / 8)]);
    expect(computeRdp(0.3, 0, 0, [2, 3])).toEqual([0, 0]);
    expect(computeRdp(0.3, 1, 4, [2])).toEqual([4 * sampledGaussianRdp(0.3, 1, 2)]);
    expect(computeRdp(1, 1, 1)).toEqual(DEFAULT_RDP_ORDERS.map((a) => a / 2));
    for (const steps of [-1, 1.5, Number.NaN]) expect(thrownCodeAndMessage(() => computeRdp(0.1, 1, steps))).toEqual({ code: 'config', message: `steps must be an integer ≥ 0, got ${steps}` });
    expect(thrownCodeAndMessage(() => computeRdp(0.1, 1, 1, []))).toEqual({ code: 'config', message: 'at least one RDP order is needed' });
  });

  it('the default orders: 1.1 … 10.9 by tenths, 11 … 64, then 80, 96, 128, 256, 512; frozen', () => {
    const tenths = Array.from({ length: 99 }, (_, k) => Number((1.1 + k / 10).toFixed(1)));
    const integers = Array.from({ length: 54 }, (_, k) => 11 + k);
    expect([...DEFAULT_RDP_ORDERS]).toEqual([...tenths, ...integers, 80, 96, 128, 256, 512]);
    expect(DEFAULT_RDP_ORDERS[9]).toBe(2); // exactly 2: the integer series, not the fractional one
    expect(Object.isFrozen(DEFAULT_RDP_ORDERS)).toBe(true);
  });
});

describe('conversion to (ε, δ), in closed form', () => {
  it('improved: RDP + log((α−1)/α) − (log δ + log α)/(α−1); classic: RDP − log δ/(α−1); the best order wins', () => {
    expect(rdpToEpsilon([2], [0.5], 1e-5)).toEqual({ epsilon: improved(2, 0.5, 1e-5), order: 2 });
    expect(rdpToEpsilon([2], [0.5], 1e-5, 'classic')).toEqual({ epsilon: classic(2, 0.5, 1e-5), order: 2 });
    const orders = [2, 8, 32];
    const rdp = [0.1, 0.4, 3];
    const e = orders.map((a, k) => improved(a, rdp[k], 1e-6));
    const best = e.indexOf(Math.min(...e));
    expect(rdpToEpsilon(orders, rdp, 1e-6)).toEqual({ epsilon: e[best], order: orders[best] });
    expect(best).toBe(1);
    const c = orders.map((a, k) => classic(a, rdp[k], 1e-6));
    expect(rdpToEpsilon(orders, rdp, 1e-6, 'classic')).toEqual({ epsilon: Math.min(...c), order: orders[c.indexOf(Math.min(...c))] });
  });

  it('skips NaN values, clamps a negative ε at 0 (keeping the order), and is ∞ with order NaN when nothing is finite', () => {
    expect(rdpToEpsilon([2, 3], [Number.NaN, 0.5], 1e-5)).toEqual({ epsilon: improved(3, 0.5, 1e-5), order: 3 });
    expect(rdpToEpsilon([2, 3], [-1, 0.5], 1e-5).order).toBe(3);
    // A negative value (never an RDP) is skipped even where it would give the smallest ε.
    expect(rdpToEpsilon([2, 3], [0.5, -1], 1e-5)).toEqual({ epsilon: improved(2, 0.5, 1e-5), order: 2 });
    expect(rdpToEpsilon([4], [0], 0.9)).toEqual({ epsilon: 0, order: 4 });
    expect(rdpToEpsilon([2, 3], [Infinity, Infinity], 1e-5)).toEqual({ epsilon: Infinity, order: Number.NaN });
    expect(rdpToEpsilon([2], [0], 0.5, 'classic')).toEqual({ epsilon: Math.LN2, order: 2 });
  });

  it('refuses mismatched lengths and δ outside (0, 1)', () => {
    expect(thrownCodeAndMessage(() => rdpToEpsilon([2, 3], [1], 1e-5))).toEqual({ code: 'config', message: 'orders and RDP values differ in length' });
    for (const d of [0, 1, -0.1, Number.NaN]) expect(thrownCodeAndMessage(() => rdpToEpsilon([2], [1], d))).toEqual({ code: 'config', message: `delta must be a number in (0, 1), got ${d}` });
    expect(thrownCodeAndMessage(() => rdpToEpsilon([], [], 0.5)).message).toBe('at least one RDP order is needed');
  });

  it('computeEpsilon uses the default orders and the improved conversion unless told otherwise', () => {
    const o = { samplingRate: 1, noiseMultiplier: 3, steps: 2, delta: 1e-5 };
    expect(computeEpsilon(o)).toEqual(rdpToEpsilon(DEFAULT_RDP_ORDERS, computeRdp(1, 3, 2), 1e-5));
    expect(computeEpsilon({ ...o, orders: [4], conversion: 'classic' })).toEqual({ epsilon: classic(4, 2 * (4 / 18), 1e-5), order: 4 });
  });

  it('noiseMultiplierForEpsilon: the smallest z to the tolerance, found by doubling then bisection', () => {
    // One order (α = 2), q = 1, classic: ε(z) = 1/z² − log δ. With δ = e^{−1}: ε(z) = 1/z² + 1, so z* = 1/√(ε − 1).
    const o = { samplingRate: 1, steps: 1, delta: Math.exp(-1), orders: [2], conversion: 'classic' as const };
    const zStar = (target: number) => 1 / Math.sqrt(target - 1);
    for (const target of [1 + 1 / 9, 1 + 1 / 100, 1.5, 5]) {
      const z = noiseMultiplierForEpsilon({ ...o, targetEpsilon: target });
      expect(z, `ε = ${target}`).toBeGreaterThanOrEqual(zStar(target) * (1 - 1e-12));
      expect(z, `ε = ${target}`).toBeLessThanOrEqual(zStar(target) * (1 + 1e-3));
      const fine = noiseMultiplierForEpsilon({ ...o, targetEpsilon: target, tolerance: 1e-9 });
      expect(fine / zStar(target), `ε = ${target}`).toBeCloseTo(1, 8);
    }
    // Exactly where the bisection stops: once hi − lo ≤ tolerance × hi, and not a step later.
    const bisect = (target: number, tol: number) => {
      const eps = (z: number) => computeEpsilon({ ...o, noiseMultiplier: z }).epsilon;
      let lo = 0;
      let hi = 1;
      while (eps(hi) > target) [lo, hi] = [hi, hi * 2];
      while (hi - lo > tol * hi) {
        const mid = (lo + hi) / 2;
        if (eps(mid) > target) lo = mid;
        else hi = mid;
      }
      return hi;
    };
    for (const [target, tol] of [[1.02, 1e-3], [1.3, 1e-3], [1.0003, 0.05], [1.5, 1e-3], [1.01, 1e-3]]) {
      expect(noiseMultiplierForEpsilon({ ...o, targetEpsilon: target, tolerance: tol }), `ε ${target}, tolerance ${tol}`).toBe(bisect(target, tol));
    }
    // z* = √50 (ε = 1.02) with the default tolerance: 4 → 8, then ten halvings, until hi − lo = 4/2^10 ≈ 0.0039 ≤ 0.1 % of hi.
    expect(noiseMultiplierForEpsilon({ ...o, targetEpsilon: 1.02 })).toBe(7.07421875);
    // z* = 1 exactly at ε = 2: the first guess already meets the target.
    expect(noiseMultiplierForEpsilon({ ...o, targetEpsilon: 2 })).toBeLessThanOrEqual(1);
    expect(noiseMultiplierForEpsilon({ ...o, targetEpsilon: 2 })).toBeGreaterThan(0.999);
  });

  it('noiseMultiplierForEpsilon refuses ε ≤ 0 and an ε no noise up to 1e6 reaches', () => {
    for (const t of [0, -1, Number.NaN]) expect(thrownCodeAndMessage(() => noiseMultiplierForEpsilon({ samplingRate: 0.1, steps: 1, delta: 1e-5, targetEpsilon: t }))).toEqual({ code: 'config', message: `target epsilon must be > 0, got ${t}` });
    // ε ≥ −log δ = 1 at every z with this order and conversion.
    const o = { samplingRate: 1, steps: 1, delta: Math.exp(-1), orders: [2], conversion: 'classic' as const };
    expect(thrownCodeAndMessage(() => noiseMultiplierForEpsilon({ ...o, targetEpsilon: 0.5 }))).toEqual({ code: 'config', message: 'no noise multiplier ≤ 1e6 reaches ε = 0.5' });
    // z* = 4e5 needs the doubling up to 2^19 ≈ 5.2e5, still under the limit.
    expect(noiseMultiplierForEpsilon({ ...o, targetEpsilon: 1 + 1 / 4e5 ** 2 }) / 4e5).toBeCloseTo(1, 2);
  });
});

describe('RdpAccountant, exactly', () => {
  it('sums steps × one-step RDP per order, refreshing the cached step when either parameter changes', () => {
    const orders = [2, 3.5, 8];
    const acc = new RdpAccountant(orders);
    acc.step(1.2, 0.1, 3).step(1.2, 0.2, 2).step(0.8, 0.2).step(0.8, 0.2, 0);
    const expected = orders.map((a) => 3 * sampledGaussianRdp(0.1, 1.2, a) + 2 * sampledGaussianRdp(0.2, 1.2, a) + sampledGaussianRdp(0.2, 0.8, a));
    const got = acc.getRdp();
    expect(got.orders).toEqual(orders);
    got.rdp.forEach((r, k) => expect(r).toBeCloseTo(expected[k], 13));
    expect(acc.steps).toBe(6);
    expect(acc.state).toEqual({
      version: 1,
      orders,
      history: [
        { noiseMultiplier: 1.2, samplingRate: 0.1, steps: 3 },
        { noiseMultiplier: 1.2, samplingRate: 0.2, steps: 2 },
        { noiseMultiplier: 0.8, samplingRate: 0.2, steps: 1 },
      ],
    });
    expect(acc.getEpsilon(1e-5)).toEqual(rdpToEpsilon(orders, got.rdp, 1e-5));
    expect(acc.getEpsilon(1e-5, 'classic')).toEqual(rdpToEpsilon(orders, got.rdp, 1e-5, 'classic'));
  });

  it('starts at zero with the default orders, and hands out copies only', () => {
    const acc = new RdpAccountant();
    expect(acc.steps).toBe(0);
    expect(acc.getRdp()).toEqual({ orders: [...DEFAULT_RDP_ORDERS], rdp: DEFAULT_RDP_ORDERS.map(() => 0) });
    expect(acc.getEpsilon(0.5).epsilon).toBe(0);
    const orders = [2, 4];
    const own = new RdpAccountant(orders);
    orders.push(8);
    own.step(1, 1);
    const view = own.getRdp();
    view.rdp[0] = 99;
    view.orders[0] = 99;
    own.state.history[0].steps = 50;
    own.state.orders.push(3);
    expect(own.getRdp()).toEqual({ orders: [2, 4], rdp: [1, 2] });
    expect(own.state).toEqual({ version: 1, orders: [2, 4], history: [{ noiseMultiplier: 1, samplingRate: 1, steps: 1 }] });
  });

  it('zero steps change nothing; bad steps and bad orders are refused', () => {
    const acc = new RdpAccountant([2]);
    acc.step(1, 1, 0);
    expect(acc.state.history).toEqual([]);
    expect(acc.getRdp().rdp).toEqual([0]);
    for (const steps of [-1, 0.5]) expect(thrownCodeAndMessage(() => acc.step(1, 1, steps))).toEqual({ code: 'config', message: `steps must be an integer ≥ 0, got ${steps}` });
    expect(thrownCodeAndMessage(() => new RdpAccountant([]))).toEqual({ code: 'config', message: 'at least one RDP order is needed' });
    expect(thrownCodeAndMessage(() => new RdpAccountant([2, 1])).message).toBe('RDP orders must be finite numbers > 1, got 1');
  });

  it('fromState replays the history and refuses anything but a version-1 state', () => {
    const acc = new RdpAccountant([2, 5]).step(1.5, 0.3, 4).step(2, 0.3);
    const back = RdpAccountant.fromState(JSON.parse(JSON.stringify(acc.state)));
    expect(back.getRdp()).toEqual(acc.getRdp());
    expect(back.state).toEqual(acc.state);
    const bad = [null, { version: 2, orders: [2], history: [] }, { version: 1, orders: 2, history: [] }, { version: 1, orders: [2], history: {} }];
    for (const s of bad) expect(thrownCodeAndMessage(() => RdpAccountant.fromState(s as never))).toEqual({ code: 'malformed_payload', message: 'not an RDP accountant state (version 1)' });
  });
});
