import { describe, expect, it } from 'vitest';
import { aggregateCenteredClip } from '../../shared/src/strategies/aggregate-centeredclip.ts';
import { aggregateFedAvg } from '../../shared/src/strategies/aggregate-fedavg.ts';
import { aggregateNormClip } from '../../shared/src/strategies/aggregate-normclip.ts';
import { errorCode, f32, list, rows, upd } from './helpers.ts';

describe('norm-bounded averaging (normclip)', () => {
  it('clips a huge update delta to norm M before the weighted average', () => {
    // Deltas (3, 4) (norm 5) and (300, 400) (norm 500) with M = 5: both become (3, 4).
    const out = aggregateNormClip([f32(0, 0)], rows([[3, 4], [300, 400]], [1, 3]), { maxNorm: 5 });
    expect(out[0][0]).toBeCloseTo(3, 5);
    expect(out[0][1]).toBeCloseTo(4, 5);
  });

  it('clips the delta from the global model, with the norm taken over all tensors', () => {
    // Global (10 | 10); update (13 | 14): delta (3 | 4), norm 5 → clipped to 2.5: (1.5 | 2).
    const out = aggregateNormClip([f32(10), f32(10)], [upd('a', [f32(13), f32(14)])], { maxNorm: 2.5 });
    expect(out[0][0]).toBeCloseTo(11.5, 5);
    expect(out[1][0]).toBeCloseTo(12, 5);
  });

  it('equals FedAvg when every delta is within the bound', () => {
    const u = rows([[1, 2], [3, 1]], [2, 5]);
    const a = aggregateNormClip([f32(0, 0)], u, { maxNorm: 100 })[0];
    const b = aggregateFedAvg([f32(0, 0)], u)[0];
    for (let i = 0; i < 2; i++) expect(a[i]).toBeCloseTo(b[i], 6);
  });

  it('rejects M ≤ 0', () => {
    expect(errorCode(() => aggregateNormClip([f32(0)], rows([[1]]), { maxNorm: 0 }))).toBe('config');
  });
});

describe('centered clipping', () => {
  // 4 sites at the global model, 1 outlier 1e6 away along x. τ = 1, n = 5.
  const outlier = () => rows([[0, 0], [0, 0], [0, 0], [0, 0], [1e6, 0]]);

  it('bounds the influence of one outlier by τ/n per iteration', () => {
    const one = aggregateCenteredClip([f32(0, 0)], outlier(), null, { radius: 1, iterations: 1 });
    expect(list(one.weights)).toEqual([[Math.fround(0.2), 0]]);
    // L = 3: v = 0.2, then 0.2 + (4·(−0.2) + 1)/5 = 0.24, then 0.24 + (4·(−0.24) + 1)/5 = 0.248.
    const three = aggregateCenteredClip([f32(0, 0)], outlier(), null, { radius: 1, iterations: 3 });
    expect(three.weights[0][0]).toBeCloseTo(0.248, 6);
    expect(three.weights[0][1]).toBe(0);
    expect(aggregateFedAvg([f32(0, 0)], outlier())[0][0]).toBe(2e5);
  });

  it('keeps the centre (a delta) in the state and starts the next round from it', () => {
    const r1 = aggregateCenteredClip([f32(5)], rows([[5.5]]), null, { radius: 1, iterations: 1 });
    expect(r1.state.round).toBe(1);
    expect(list(r1.state.centre!)).toEqual([[0.5]]);
    // Next round: all updates 10 above the global; from centre 0.5 one clipped step of τ = 1 → 1.5.
    const withHistory = aggregateCenteredClip([f32(0)], rows([[10], [10]]), r1.state, { radius: 1, iterations: 1 });
    expect(list(withHistory.weights)).toEqual([[1.5]]);
    expect(list(withHistory.state.centre!)).toEqual([[1.5]]);
    expect(withHistory.state.round).toBe(2);
    const fresh = aggregateCenteredClip([f32(0)], rows([[10], [10]]), null, { radius: 1, iterations: 1 });
    expect(list(fresh.weights)).toEqual([[1]]);
  });

  it('rejects τ ≤ 0, L < 1 and a centre of another layout', () => {
    const u = rows([[1]]);
    expect(errorCode(() => aggregateCenteredClip([f32(0)], u, null, { radius: 0 }))).toBe('config');
    expect(errorCode(() => aggregateCenteredClip([f32(0)], u, null, { iterations: 0 }))).toBe('config');
    expect(errorCode(() => aggregateCenteredClip([f32(0)], u, null, { iterations: 1.5 }))).toBe('config');
    expect(errorCode(() => aggregateCenteredClip([f32(0)], u, { round: 1, centre: [f32(0, 0)] }))).toBe('shape_mismatch');
  });
});
