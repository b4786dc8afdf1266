import { describe, expect, it } from 'vitest';
import {
  addGaussianNoise,
  adaptiveClipUpdateNoiseMultiplier,
  clipUpdate,
  initialAdaptiveClip,
  l2Norm,
  noisyFractionBelow,
  updateAdaptiveClip,
} from '../../shared/src/privacy/dp-fedavg.ts';
import { ChaChaRandom } from '../../shared/src/privacy/chacha-random.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';

const update = () => [Float32Array.from([3, 0, 0]), Float32Array.from([4])]; // norm 5 over both tensors

describe('clipUpdate', () => {
  it('scales to norm C over all tensors together, without touching its input', () => {
    const input = update();
    const r = clipUpdate(input, 1);
    expect(r.norm).toBeCloseTo(5, 12);
    expect(r.scale).toBeCloseTo(0.2, 12);
    expect(r.withinClip).toBe(false);
    expect(l2Norm(r.update)).toBeCloseTo(1, 6);
    expect(Array.from(r.update[0])).toEqual([Math.fround(0.6), 0, 0]);
    expect(Array.from(input[1])).toEqual([4]);
  });

  it('leaves an update within the clip unchanged (a copy)', () => {
    const input = update();
    const r = clipUpdate(input, 5);
    expect(r.withinClip).toBe(true);
    expect(r.scale).toBe(1);
    expect(r.update[0]).toEqual(input[0]);
    expect(r.update[0]).not.toBe(input[0]);
  });

  it('refuses a non-positive clip and a non-finite update', () => {
    expect(() => clipUpdate(update(), 0)).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => clipUpdate([Float32Array.from([NaN])], 1)).toThrow(expect.objectContaining({ code: 'non_finite' }));
  });
});

describe('addGaussianNoise', () => {
  it('adds N(0, std²) per coordinate, reproducibly from a seed', () => {
    const zeros = [new Float32Array(5000), new Float32Array(5000)];
    const a = addGaussianNoise(zeros, 0.5, new ChaChaRandom(new Uint8Array(32).fill(7)));
    const b = addGaussianNoise(zeros, 0.5, new ChaChaRandom(new Uint8Array(32).fill(7)));
    expect(a).toEqual(b);
    const all = [...a[0], ...a[1]];
    const mean = all.reduce((s, v) => s + v, 0) / all.length;
    const sd = Math.sqrt(all.reduce((s, v) => s + (v - mean) ** 2, 0) / all.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(sd).toBeGreaterThan(0.485);
    expect(sd).toBeLessThan(0.515);
    expect(zeros[0].every((v) => v === 0)).toBe(true);
    // any NormalSource works, e.g. SeededRandom for simulations
    expect(addGaussianNoise(zeros, 0, new SeededRandom(1))).toEqual(zeros);
  });
});

describe('adaptive clipping (Andrew et al. 2021)', () => {
  const opts = { targetQuantile: 0.5, learningRate: 0.2 };

  it('is the geometric update C·exp(−η(b̄ − γ))', () => {
    const s = initialAdaptiveClip(1);
    expect(updateAdaptiveClip(s, 0.5, opts).clip).toBeCloseTo(1, 12);
    expect(updateAdaptiveClip(s, 1, opts).clip).toBeCloseTo(Math.exp(-0.1), 12); // all within: shrink
    expect(updateAdaptiveClip(s, 0, opts).clip).toBeCloseTo(Math.exp(0.1), 12); // none within: grow
    expect(updateAdaptiveClip(s, 0.5, opts).rounds).toBe(1);
  });

  it('converges to the target quantile of the update norms, with noise on the count', () => {
    const rng = new SeededRandom(3);
    const noise = new ChaChaRandom(new Uint8Array(32).fill(1));
    // norms ~ lognormal with median e^0 = 1; start far away
    let state = initialAdaptiveClip(0.01);
    const sites = 100;
    for (let round = 0; round < 300; round++) {
      let below = 0;
      for (let k = 0; k < sites; k++) if (Math.exp(0.3 * rng.normal()) <= state.clip) below++;
      state = updateAdaptiveClip(state, noisyFractionBelow(below, sites, sites, sites / 20, noise), opts);
    }
    expect(state.clip).toBeGreaterThan(0.85);
    expect(state.clip).toBeLessThan(1.15);
  });

  it('splits the noise budget between the count and the update sum (Thm. 1)', () => {
    const z = 1;
    const sigmaB = 5;
    const zDelta = adaptiveClipUpdateNoiseMultiplier(z, sigmaB);
    expect(zDelta).toBeGreaterThan(z);
    expect(zDelta ** -2 + (2 * sigmaB) ** -2).toBeCloseTo(z ** -2, 12);
    expect(() => adaptiveClipUpdateNoiseMultiplier(2, 0.5)).toThrow(expect.objectContaining({ code: 'config' }));
  });
});
