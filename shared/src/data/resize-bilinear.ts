/** Decoded pixels: `width × height` RGBA bytes, row by row (what PNG and JPEG decoders give). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * An image as a model input: resized to `height × width` by bilinear interpolation (half-pixel centres, as
 * tf.image.resizeBilinear with halfPixelCenters), with 1 channel (ITU-R BT.601 luma) or 3 (RGB), each value
 * in [0, 1]; transparent pixels are composed over black (as the browser site's canvas does). Layout
 * [height, width, channels].
 */
export function rgbaToInput(image: RgbaImage, height: number, width: number, channels: 1 | 3): Float32Array {
  const { width: sw, height: sh, data } = image;
  const out = new Float32Array(height * width * channels);
  const pixel = new Float64Array(3);
  const sample = (sx: number, sy: number, weight: number) => {
    const p = 4 * (sy * sw + sx);
    const a = data[p + 3] / 255;
    pixel[0] += weight * data[p] * a;
    pixel[1] += weight * data[p + 1] * a;
    pixel[2] += weight * data[p + 2] * a;
  };
  const scaleY = sh / height;
  const scaleX = sw / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * scaleY - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * scaleX - 0.5, 0), sw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = fx - x0;
      pixel.fill(0);
      sample(x0, y0, (1 - wx) * (1 - wy));
      sample(x1, y0, wx * (1 - wy));
      sample(x0, y1, (1 - wx) * wy);
      sample(x1, y1, wx * wy);
      const o = (y * width + x) * channels;
      if (channels === 1) out[o] = Math.min(1, (0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2]) / 255);
      else for (let c = 0; c < 3; c++) out[o + c] = Math.min(1, pixel[c] / 255);
    }
  }
  return out;
}
