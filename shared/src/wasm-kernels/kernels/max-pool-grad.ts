import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';
import { replacementConfig } from '../stock-kernels.ts';

/**
 * Routes each output gradient to the first maximum of its pooling window (row-major order, padding never
 * wins), exactly as the cpu backend does. Replaces tfjs-backend-wasm's kernel, whose running maximum starts
 * at the smallest positive float so a window whose maximum is ≤ 0 gets no gradient at all — wrong after
 * BatchNorm, tanh or linear layers — and which is also slower than this single pass over the wasm heap.
 */
function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, input } = inputsOf<tf.MaxPoolGradInputs>(args);
  const { filterSize, strides, pad, dimRoundingMode } = attrsOf<tf.MaxPoolGradAttrs>(args);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const heap = asWasmHeapBackend(args.backend);
  const { out, outView, inputViews } = allocateWithViews(heap, input.shape, 'float32', [input, dy]);
  const dx = outView as Float32Array;
  const [xs, dys] = inputViews as [Float32Array, Float32Array];
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < oh; yr++) {
      const rMin = Math.max(0, yr * sh - top);
      const rMax = Math.min(h, yr * sh - top + fh);
      for (let yc = 0; yc < ow; yc++) {
        const cMin = Math.max(0, yc * sw - left);
        const cMax = Math.min(w, yc * sw - left + fw);
        const dyBase = ((b * oh + yr) * ow + yc) * c;
        for (let d = 0; d < c; d++) {
          let best = -Infinity;
          let at = -1;
          for (let r = rMin; r < rMax; r++) {
            for (let i = ((b * h + r) * w + cMin) * c + d, end = i + (cMax - cMin) * c; i < end; i += c) {
              const v = xs[i]!;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at]! += dys[dyBase + d]!;
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = replacementConfig(tf.MaxPoolGrad, maxPoolGrad as unknown as tf.KernelFunc);
