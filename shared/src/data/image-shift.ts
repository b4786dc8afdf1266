import type { SeededRandom } from '../random/seeded-random.ts';

/**
 * How one site's scanner renders images: its own noise level, contrast, background and small rotations.
 * Applied to 2-D grayscale images with values in [0, 1].
 */
export interface ScannerProfile {
  noiseStd: number;
  contrast: number;
  background: number;
  rotationDeg: number;
  rotationJitterDeg: number;
}

/** Draws a scanner profile. */
export function randomScannerProfile(rng: SeededRandom): ScannerProfile {
  return {
    noiseStd: rng.uniform(0.05, 0.3),
    contrast: rng.uniform(0.5, 1.0),
    background: rng.uniform(0.0, 0.25),
    rotationDeg: rng.uniform(-15, 15),
    rotationJitterDeg: rng.uniform(2, 6),
  };
}

/** Rotates a w×h image about its centre by `deg` degrees (bilinear, zero fill). */
export function rotateImage(src: Float32Array, width: number, height: number, deg: number, out = new Float32Array(src.length)): Float32Array {
  const rad = (deg * Math.PI) / 180;
  const cos = Math.cos(rad);
  const sin = Math.sin(rad);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const sx = cos * dx + sin * dy + cx;
      const sy = -sin * dx + cos * dy + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      let v = 0;
      for (let j = 0; j < 2; j++) {
        for (let i = 0; i < 2; i++) {
          const px = x0 + i;
          const py = y0 + j;
          if (px >= 0 && px < width && py >= 0 && py < height) {
            v += src[py * width + px] * (i ? fx : 1 - fx) * (j ? fy : 1 - fy);
          }
        }
      }
      out[y * width + x] = v;
    }
  }
  return out;
}

/** Applies a scanner profile to one image in place-free fashion, drawing jitter and noise from `rng`. */
export function applyScannerProfile(src: Float32Array, width: number, height: number, profile: ScannerProfile, rng: SeededRandom): Float32Array {
  const angle = profile.rotationDeg + rng.uniform(-profile.rotationJitterDeg, profile.rotationJitterDeg);
  const out = rotateImage(src, width, height, angle);
  for (let i = 0; i < out.length; i++) {
    const v = profile.background + profile.contrast * out[i] * (1 - profile.background) + profile.noiseStd * rng.normal();
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}
