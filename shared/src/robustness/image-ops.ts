import type { SeededRandom } from '../random/seeded-random.ts';

/**
 * Small image operations for the corruptions: single-channel images of `width`×`height` held row-major
 * in a Float32Array, values in [0, 1]. Pure JavaScript, no tensors.
 */

export function clip01(img: Float32Array): Float32Array {
  for (let i = 0; i < img.length; i++) img[i] = img[i] < 0 ? 0 : img[i] > 1 ? 1 : img[i];
  return img;
}

/** Bilinear sample at (x, y) (column, row); outside the image counts as 0. */
export function sampleBilinear(img: Float32Array, width: number, height: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  let v = 0;
  for (let j = 0; j < 2; j++) {
    const py = y0 + j;
    if (py < 0 || py >= height) continue;
    for (let i = 0; i < 2; i++) {
      const px = x0 + i;
      if (px < 0 || px >= width) continue;
      v += img[py * width + px] * (i ? fx : 1 - fx) * (j ? fy : 1 - fy);
    }
  }
  return v;
}

/**
 * Warps by an inverse map: output pixel (x, y) takes the input at (a·x + b·y + c, d·x + e·y + f),
 * bilinear, zero outside (as skimage's `warp(img, inverse_map=…)`).
 */
export function warpAffine(img: Float32Array, width: number, height: number, m: readonly [number, number, number, number, number, number]): Float32Array {
  const out = new Float32Array(img.length);
  const [a, b, c, d, e, f] = m;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = sampleBilinear(img, width, height, a * x + b * y + c, d * x + e * y + f);
  }
  return out;
}

/** An inverse map with linear part [[a, b], [d, e]] that keeps the image centre fixed. */
export function centredAffine(width: number, height: number, a: number, b: number, d: number, e: number): [number, number, number, number, number, number] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  return [a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy];
}

function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(4 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Separable Gaussian blur (kernel truncated at 4σ, edges extended as nearest), like skimage's `gaussian`. */
export function gaussianBlur(img: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(img.length);
  const out = new Float32Array(img.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let i = -r; i <= r; i++) v += k[i + r] * img[y * width + Math.min(width - 1, Math.max(0, x + i))];
      tmp[y * width + x] = v;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let i = -r; i <= r; i++) v += k[i + r] * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x];
      out[y * width + x] = v;
    }
  }
  return out;
}

/**
 * A soft line through (c0, r0)–(c1, r1) (column, row) between columns ⌊c0⌋ and ⌈c1⌉: intensity
 * log(1 − d/2.3) + 1 at vertical distance d from the line, clipped to [0, 1] (MNIST-C's line).
 */
export function lineMask(width: number, height: number, c0: number, r0: number, c1: number, r1: number): Float32Array {
  const out = new Float32Array(width * height);
  if (c1 === c0) return out;
  const slope = (r1 - r0) / (c1 - c0);
  const left = Math.floor(c0);
  const right = Math.ceil(c1);
  for (let x = Math.max(0, left); x < Math.min(width, right); x++) {
    const ry = slope * (x - c0) + r0;
    for (let y = 0; y < height; y++) {
      const dist = Math.min(Math.abs(y - ry), 2.3 - 1e-10);
      const v = Math.log(1 - dist / 2.3) + 1;
      out[y * width + x] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return out;
}

/** Poisson draw (Knuth; fine for the small means used here). */
export function poisson(lambda: number, rng: SeededRandom): number {
  if (lambda <= 0) return 0;
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rng.next();
  } while (p > l);
  return k - 1;
}

/**
 * Plasma fractal (diamond-square) of `size`×`size` (a power of two), normalized to [0, 1]; `decay` divides
 * the random amplitude at each level. Returns the top-left `cropWidth`×`cropHeight` corner. As MNIST-C's fog.
 */
export function plasmaFractal(size: number, decay: number, rng: SeededRandom, cropWidth = size, cropHeight = size): Float32Array {
  if (size < 2 || (size & (size - 1)) !== 0) throw new Error(`plasma fractal size ${size} is not a power of two`);
  const shift = Math.log2(size);
  const mask = size - 1; // wrap-around indexing by masking
  const map = new Float64Array(size * size);
  // Each level draws 3·(size/step)² numbers in loop order: drawn as a block (fillUniform: the same numbers).
  const draws = new Float64Array((3 * size * size) / 4);
  let step = size;
  let wibble = 100;
  while (step >= 2) {
    const half = step >> 1;
    const amp = wibble * wibble;
    const perSide = size / step;
    rng.fillUniform(draws, 3 * perSide * perSide);
    let k = 0;
    // squares: the centre of each square is the mean of its four corners plus noise
    for (let r = half; r < size; r += step) {
      const up = ((r - half) & mask) << shift;
      const down = ((r + half) & mask) << shift;
      for (let c = half; c < size; c += step) {
        const left = (c - half) & mask;
        const right = (c + half) & mask;
        const s = map[up | left] + map[up | right] + map[down | left] + map[down | right];
        map[(r << shift) | c] = s / 4 + amp * (2 * draws[k++] - 1);
      }
    }
    // diamonds: each edge midpoint is the mean of its four neighbours plus noise
    for (let r = 0; r < size; r += half) {
      const row = r << shift;
      const up = ((r - half) & mask) << shift;
      const down = ((r + half) & mask) << shift;
      for (let c = (r / half) % 2 === 0 ? half : 0; c < size; c += step) {
        const s = map[up | c] + map[down | c] + map[row | ((c - half) & mask)] + map[row | ((c + half) & mask)];
        map[row | c] = s / 4 + amp * (2 * draws[k++] - 1);
      }
    }
    step = half;
    wibble /= decay;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    if (map[i] < lo) lo = map[i];
    if (map[i] > hi) hi = map[i];
  }
  const w = Math.min(cropWidth, size);
  const h = Math.min(cropHeight, size);
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = hi > lo ? (map[(r << shift) | c] - lo) / (hi - lo) : 0;
  return out;
}

/**
 * Canny edge detector (Gaussian σ, Sobel gradient, non-maximum suppression, hysteresis between `low`
 * and `high` on the gradient magnitude), as skimage's `feature.canny` with its defaults for float images.
 * Returns a 0/1 edge map.
 */
export function cannyEdges(img: Float32Array, width: number, height: number, sigma = 1, low = 0.1, high = 0.2): Float32Array {
  const s = gaussianBlur(img, width, height, sigma);
  const px = (x: number, y: number) => s[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))];
  const mag = new Float32Array(img.length);
  const gxs = new Float32Array(img.length);
  const gys = new Float32Array(img.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gx = px(x + 1, y - 1) + 2 * px(x + 1, y) + px(x + 1, y + 1) - px(x - 1, y - 1) - 2 * px(x - 1, y) - px(x - 1, y + 1);
      const gy = px(x - 1, y + 1) + 2 * px(x, y + 1) + px(x + 1, y + 1) - px(x - 1, y - 1) - 2 * px(x, y - 1) - px(x + 1, y - 1);
      const i = y * width + x;
      gxs[i] = gx;
      gys[i] = gy;
      mag[i] = Math.hypot(gx, gy);
    }
  }
  const m = (x: number, y: number) => (x < 0 || y < 0 || x >= width || y >= height ? 0 : mag[y * width + x]);
  const strong = new Uint8Array(img.length);
  const weak = new Uint8Array(img.length);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const g = mag[i];
      if (g < low) continue;
      // quantize the gradient direction to 0°, 45°, 90°, 135° and compare with the two neighbours along it
      const angle = ((Math.atan2(gys[i], gxs[i]) * 180) / Math.PI + 180) % 180;
      let dx = 1;
      let dy = 0;
      if (angle >= 22.5 && angle < 67.5) [dx, dy] = [1, 1];
      else if (angle >= 67.5 && angle < 112.5) [dx, dy] = [0, 1];
      else if (angle >= 112.5 && angle < 157.5) [dx, dy] = [-1, 1];
      if (g < m(x + dx, y + dy) || g < m(x - dx, y - dy)) continue;
      if (g >= high) strong[i] = 1;
      else weak[i] = 1;
    }
  }
  // hysteresis: weak edges connected (8-neighbourhood) to strong ones become edges
  const out = new Float32Array(img.length);
  const stack: number[] = [];
  for (let i = 0; i < strong.length; i++) if (strong[i]) stack.push(i);
  while (stack.length) {
    const i = stack.pop()!;
    if (out[i]) continue;
    out[i] = 1;
    const x = i % width;
    const y = (i - x) / width;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const j = ny * width + nx;
        if (!out[j] && (weak[j] || strong[j])) stack.push(j);
      }
    }
  }
  return out;
}
