import type { Dataset } from './dataset.ts';

/** Fewest features read as an image's pixels (8×8): a small table of counts is not taken for an image. */
const MIN_PIXELS = 64;

/**
 * A warning for a CSV whose features look like raw 0–255 pixel values of square images (e.g. 785 columns:
 * the label and 784 = 28×28 pixels up to 255), which fedtune reads as generic tabular data: every value an
 * integer in 0–255, some above 1, and a square number of features (at least 64). Undefined for anything else
 * (ordinary tabular data, pixels already scaled to [0, 1], images). It changes nothing: the caller prints it.
 * `imageFolder`: the command also reads a folder of images (a site's --data), so the line suggests it.
 */
export function pixelCsvWarning(ds: Pick<Dataset, 'x' | 'featureShape'>, options: { imageFolder?: boolean } = {}): string | undefined {
  if (ds.featureShape.length !== 1) return undefined;
  const n = ds.featureShape[0];
  const side = Math.round(Math.sqrt(n));
  if (n < MIN_PIXELS || side * side !== n || ds.x.length === 0) return undefined;
  let max = 0;
  for (const v of ds.x) {
    if (!(v >= 0 && v <= 255 && Number.isInteger(v))) return undefined;
    if (v > max) max = v;
  }
  if (max <= 1) return undefined;
  return `warning: all ${n} features are integers in 0–255 (up to ${max}): this looks like ${side}×${side} images of raw pixel values, read as tabular data; scale them to [0, 1] (divide by 255; the built-in digits models expect 784 pixels in [0, 1])${options.imageFolder ? ` or give the images as a folder (--data DIR --image-size ${side}x${side})` : ''}`;
}
