import { describe, expect, it } from 'vitest';
import { applyCorruption, featureStats, IMAGE_CORRUPTIONS, inputGeometry, SeededRandom, subset, TABULAR_CORRUPTIONS, gaussianNoise, type Dataset } from '@fedtune/shared';
import { builtinDigits } from '@fedtune/shared/node';

const digits: Dataset = subset(builtinDigits().holdout, [0, 1, 2, 3, 4, 5, 6, 7]);
const geometry = inputGeometry(digits);

function tabular(): Dataset {
  const rng = new SeededRandom(3);
  const n = 20;
  const f = 12;
  return { x: Float32Array.from({ length: n * f }, () => rng.normal() * 5 + 10), y: Int32Array.from({ length: n }, (_, i) => i % 3), featureShape: [f], numClasses: 3 };
}

describe('image corruptions (MNIST-C)', () => {
  it('detects 784 pixel columns in [0, 1] as 28×28 images', () => {
    expect(geometry).toEqual({ kind: 'image', width: 28, height: 28 });
    expect(inputGeometry(tabular()).kind).toBe('tabular');
  });

  it('has the 15 MNIST-C corruptions', () => {
    expect(IMAGE_CORRUPTIONS.map((c) => c.name)).toEqual([
      'shot_noise', 'impulse_noise', 'glass_blur', 'motion_blur', 'shear', 'scale', 'rotate', 'brightness',
      'translate', 'stripe', 'fog', 'spatter', 'dotted_line', 'zigzag', 'canny_edges',
    ]);
  });

  for (const c of [...IMAGE_CORRUPTIONS, gaussianNoise(0.3)]) {
    it(`${c.name}: changes every image, keeps shape and [0, 1], is deterministic for a seed, leaves its input alone`, () => {
      const before = digits.x.slice();
      const a = applyCorruption(digits, c, { geometry, seed: 11 });
      const b = applyCorruption(digits, c, { geometry, seed: 11 });
      expect(digits.x).toEqual(before);
      expect(a.x.length).toBe(digits.x.length);
      expect(a.featureShape).toEqual(digits.featureShape);
      expect(a.y).toEqual(digits.y);
      expect(a.x).toEqual(b.x);
      expect(Math.min(...a.x)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...a.x)).toBeLessThanOrEqual(1);
      for (let i = 0; i < digits.y.length; i++) {
        const img = a.x.subarray(i * 784, (i + 1) * 784);
        const orig = digits.x.subarray(i * 784, (i + 1) * 784);
        let diff = 0;
        for (let j = 0; j < 784; j++) diff += Math.abs(img[j] - orig[j]);
        if (diff <= 1) throw new Error(`${c.name} barely changed image ${i} (L1 change ${diff})`);
      }
      // A different seed gives a different result wherever the corruption draws random numbers.
      const random = !['scale', 'brightness', 'stripe', 'canny_edges'].includes(c.name);
      if (random) expect(applyCorruption(digits, c, { geometry, seed: 12 }).x).not.toEqual(a.x);
    });
  }
});

describe('tabular corruptions', () => {
  const ds = tabular();
  const stats = featureStats(ds);
  const g = inputGeometry(ds);
  for (const c of TABULAR_CORRUPTIONS) {
    it(`${c.name}: changes the data, keeps shape, deterministic for a seed`, () => {
      const a = applyCorruption(ds, c, { geometry: g, seed: 5, stats });
      expect(a.x.length).toBe(ds.x.length);
      expect(a.x).toEqual(applyCorruption(ds, c, { geometry: g, seed: 5, stats }).x);
      expect(a.x).not.toEqual(ds.x);
      expect(a.x.every((v) => Number.isFinite(v))).toBe(true);
    });
  }
});
