import { describe, expect, it } from 'vitest';
import { aggregateFedAdagrad } from '../../shared/src/strategies/aggregate-fedadagrad.ts';
import { aggregateFedAdam, FEDADAM_DEFAULTS } from '../../shared/src/strategies/aggregate-fedadam.ts';
import { aggregateFedAvg } from '../../shared/src/strategies/aggregate-fedavg.ts';
import { aggregateFedAvgM } from '../../shared/src/strategies/aggregate-fedavgm.ts';
import { aggregateFedProx, fedProx, FEDPROX_DEFAULTS } from '../../shared/src/strategies/aggregate-fedprox.ts';
import { aggregateFedYogi } from '../../shared/src/strategies/aggregate-fedyogi.ts';
import { errorCode, f32, list, rows, upd } from './helpers.ts';

describe('FedAvgM', () => {
  it('accumulates server momentum over two rounds', () => {
    const opts = { serverLr: 0.5, momentum: 0.5 };
    // Round 1: Δ = 1 → m = 1, x = 0 + 0.5·1 = 0.5.
    const r1 = aggregateFedAvgM([f32(0)], rows([[0], [2]], [1, 1]), null, opts);
    expect(list(r1.weights)).toEqual([[0.5]]);
    expect(list(r1.state.momentum!)).toEqual([[1]]);
    expect(r1.state.round).toBe(1);
    // Round 2 from x = 0.5, average 1.5: Δ = 1 → m = 0.5·1 + 1 = 1.5, x = 0.5 + 0.75 = 1.25.
    const r2 = aggregateFedAvgM(r1.weights, rows([[1], [2]], [1, 1]), r1.state, opts);
    expect(list(r2.weights)).toEqual([[1.25]]);
    expect(list(r2.state.momentum!)).toEqual([[1.5]]);
    expect(r2.state.round).toBe(2);
  });

  it('is FedAvg with β = 0 and η = 1', () => {
    const u = rows([[1, 2], [3, 6]], [1, 3]);
    const out = aggregateFedAvgM([f32(0, 0)], u, null, { serverLr: 1, momentum: 0 }).weights;
    expect(list(out)).toEqual(list(aggregateFedAvg([f32(0, 0)], u)));
  });

  it('rejects β ≥ 1, η ≤ 0 and a momentum buffer of another layout', () => {
    const u = rows([[1]]);
    expect(errorCode(() => aggregateFedAvgM([f32(0)], u, null, { momentum: 1 }))).toBe('config');
    expect(errorCode(() => aggregateFedAvgM([f32(0)], u, null, { serverLr: 0 }))).toBe('config');
    expect(errorCode(() => aggregateFedAvgM([f32(0)], u, { round: 1, momentum: [f32(1, 2)] }))).toBe('shape_mismatch');
  });
});

describe('FedAdam / FedYogi / FedAdagrad (Reddi et al. 2021)', () => {
  const eta = FEDADAM_DEFAULTS.serverLr;
  const tau = FEDADAM_DEFAULTS.tau;
  // Average update Δ = (0.1, −0.2, 0) from x = 0.
  const updates = () => rows([[0.1, -0.2, 0], [0.1, -0.2, 0]]);

  it('FedAdam: the first step is ≈ η·sign(Δ), shrunk by τ, exactly as the formula', () => {
    const r = aggregateFedAdam([f32(0, 0, 0)], updates(), null);
    for (const [i, d] of [0.1, -0.2, 0].entries()) {
      const m = 0.1 * Math.fround(d);
      const v = 0.99 * tau * tau + 0.01 * Math.fround(d) ** 2;
      expect(r.weights[0][i]).toBeCloseTo((eta * m) / (Math.sqrt(v) + tau), 8);
      if (d !== 0) {
        expect(Math.sign(r.weights[0][i])).toBe(Math.sign(d));
        expect(Math.abs(r.weights[0][i])).toBeGreaterThan(0.85 * eta);
        expect(Math.abs(r.weights[0][i])).toBeLessThan(eta);
      }
    }
    expect(r.weights[0][2]).toBe(0);
    expect(r.state.round).toBe(1);
  });

  it('FedAdam: the second step uses the stored moments', () => {
    const r1 = aggregateFedAdam([f32(0)], rows([[0.1]]), null);
    const x1 = r1.weights[0][0];
    const r2 = aggregateFedAdam(r1.weights, rows([[x1 + 0.3]]), r1.state);
    const d2 = Math.fround(Math.fround(x1 + 0.3) - x1);
    const m = 0.9 * r1.state.m![0][0] + 0.1 * d2;
    const v = 0.99 * r1.state.v![0][0] + 0.01 * d2 * d2;
    expect(r2.state.m![0][0]).toBeCloseTo(m, 8);
    expect(r2.state.v![0][0]).toBeCloseTo(v, 10);
    expect(r2.weights[0][0]).toBeCloseTo(x1 + (eta * m) / (Math.sqrt(v) + tau), 7);
  });

  it('FedYogi: the first step matches its formula (v grows by (1 − β2)Δ² while v < Δ²)', () => {
    const r = aggregateFedYogi([f32(0, 0, 0)], updates(), null);
    const d = Math.fround(0.1);
    const v = tau * tau + 0.01 * d * d;
    expect(r.weights[0][0]).toBeCloseTo((eta * 0.1 * d) / (Math.sqrt(v) + tau), 8);
    expect(r.state.v![0][0]).toBeCloseTo(v, 10);
  });

  it('FedAdagrad: v accumulates Δ² and, with β1 = 0, the step is η·Δ / (√(τ² + Δ²) + τ)', () => {
    const r1 = aggregateFedAdagrad([f32(0)], rows([[0.1]]), null);
    const d = Math.fround(0.1);
    expect(r1.weights[0][0]).toBeCloseTo((0.01 * d) / (Math.sqrt(tau * tau + d * d) + tau), 8);
    const x1 = r1.weights[0][0];
    const r2 = aggregateFedAdagrad(r1.weights, rows([[x1 + 0.1]]), r1.state);
    const d2 = Math.fround(Math.fround(x1 + 0.1) - x1);
    expect(r2.state.v![0][0]).toBeCloseTo(tau * tau + d * d + d2 * d2, 8);
  });

  it('rejects bad hyper-parameters and inconsistent state', () => {
    const u = rows([[1]]);
    expect(errorCode(() => aggregateFedAdam([f32(0)], u, null, { tau: 0 }))).toBe('config');
    expect(errorCode(() => aggregateFedYogi([f32(0)], u, null, { beta2: 1 }))).toBe('config');
    expect(errorCode(() => aggregateFedAdagrad([f32(0)], u, null, { beta1: -0.1 }))).toBe('config');
    expect(errorCode(() => aggregateFedAdagrad([f32(0)], u, null, { beta2: 0.9 } as never))).toBe('config');
    expect(errorCode(() => aggregateFedAdam([f32(0)], u, { round: 1, m: [f32(0)], v: null }))).toBe('config');
    expect(errorCode(() => aggregateFedAdam([f32(0)], u, { round: -1, m: null, v: null }))).toBe('config');
  });
});

describe('FedProx', () => {
  it('aggregates as FedAvg and exposes proximalMu for the sites', () => {
    const u = [upd('a', [f32(1, 2)], 1), upd('b', [f32(3, 6)], 3)];
    expect(list(aggregateFedProx([f32(0, 0)], u, { proximalMu: 0.5 }))).toEqual([[2.5, 5]]);
    expect(FEDPROX_DEFAULTS.proximalMu).toBeGreaterThan(0);
    expect(errorCode(() => fedProx.initialState({ proximalMu: -1 }))).toBe('config');
  });
});
