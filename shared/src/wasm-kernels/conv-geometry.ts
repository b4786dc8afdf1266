import * as tf from '@tensorflow/tfjs';

/** Rows (or columns) to add before and after one spatial axis; a negative amount crops instead. */
export interface AxisPadding {
  before: number;
  after: number;
}

/**
 * Pads (with zeros) or crops the two spatial axes of an NHWC tensor so that a following 'valid' convolution
 * sees exactly the window it needs. Positive amounts are returned as explicit convolution padding (no copy);
 * negative ones are applied here as a slice.
 */
export function cropForConv(
  x: tf.Tensor4D,
  rows: AxisPadding,
  cols: AxisPadding,
): { x: tf.Tensor4D; pad: [[number, number], [number, number], [number, number], [number, number]] } {
  const [n, h, w, c] = x.shape;
  const top = Math.max(0, -rows.before);
  const left = Math.max(0, -cols.before);
  const height = h - top - Math.max(0, -rows.after);
  const width = w - left - Math.max(0, -cols.after);
  const cropped = top === 0 && left === 0 && height === h && width === w ? x : tf.slice(x, [0, top, left, 0], [n, height, width, c]);
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [Math.max(0, rows.before), Math.max(0, rows.after)],
    [Math.max(0, cols.before), Math.max(0, cols.after)],
    [0, 0],
  ];
  return { x: cropped, pad };
}

/**
 * Inserts `strideH - 1` zero rows after every row and `strideW - 1` zero columns after every column of an
 * NHWC tensor (the last row and column get them too: callers subtract `stride - 1` from their bottom/right
 * padding). Returns the input itself for unit strides.
 */
export function zeroInterleave(x: tf.Tensor4D, strideH: number, strideW: number): tf.Tensor4D {
  if (strideH === 1 && strideW === 1) return x;
  const [n, h, w, c] = x.shape;
  const spread = tf.pad(tf.reshape(x, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, strideH - 1],
    [0, 0],
    [0, strideW - 1],
    [0, 0],
  ]);
  return tf.reshape(spread, [n, h * strideH, w * strideW, c]);
}

/** NCHW → NHWC and back, for kernels whose attrs allow either layout. */
export const toChannelsLast = (x: tf.Tensor4D): tf.Tensor4D => tf.transpose(x, [0, 2, 3, 1]);
export const toChannelsFirst = (x: tf.Tensor4D): tf.Tensor4D => tf.transpose(x, [0, 3, 1, 2]);
export const shapeToChannelsLast = ([n, c, h, w]: number[]): [number, number, number, number] => [n, h, w, c];
