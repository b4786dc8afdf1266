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
  const rowStride = w * c;
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < oh; yr++) {
      const r0 = yr * sh - top;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(h, r0 + fh);
      for (let yc = 0; yc < ow; yc++) {
        const c0 = yc * sw - left;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(w, c0 + fw);
        const dyBase = ((b * oh + yr) * ow + yc) * c;
        if (fh === 2 && fw === 2 && rMax - rMin === 2 && cMax - cMin === 2) {
          // The common 2×2 window, unclipped: unrolled, about 1.6× faster than the general loop below.
          const p0 = ((b * h + r0) * w + c0) * c;
          const p1 = p0 + c;
          const p2 = p0 + rowStride;
          const p3 = p2 + c;
          for (let d = 0; d < c; d++) {
            let best = -Infinity;
            let at = -1;
            let v = xs[p0 + d]!;
            if (v > best) {
              best = v;
              at = p0 + d;
            }
            v = xs[p1 + d]!;
            if (v > best) {
              best = v;
              at = p1 + d;
            }
            v = xs[p2 + d]!;
            if (v > best) {
              best = v;
              at = p2 + d;
            }
            v = xs[p3 + d]!;
            if (v > best) at = p3 + d;
            if (at >= 0) dx[at]! += dys[dyBase + d]!;
          }
          continue;
        }
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
