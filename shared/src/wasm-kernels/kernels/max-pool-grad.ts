import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';
import { replacementConfig } from '../stock-kernels.ts';
import { maxPoolGradKernels } from '../max-pool-grad-kernels.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';

/**
 * Whether the SIMD kernel (max-pool-grad-kernels.ts) applies: float32, channels a multiple of 4, windows that
 * do not overlap (window ≤ stride) and lie wholly inside the input (no padding reaches a window).
 */
export function simdPoolGradApplies(p: { dtype: string; inHeight: number; inWidth: number; inChannels: number; outHeight: number; outWidth: number; strideHeight: number; strideWidth: number; effectiveFilterHeight: number; effectiveFilterWidth: number; top: number; left: number }): boolean {
  return (
    p.dtype === 'float32' &&
    p.inChannels % 4 === 0 &&
    p.effectiveFilterHeight <= p.strideHeight &&
    p.effectiveFilterWidth <= p.strideWidth &&
    p.top === 0 &&
    p.left === 0 &&
    (p.outHeight - 1) * p.strideHeight + p.effectiveFilterHeight <= p.inHeight &&
    (p.outWidth - 1) * p.strideWidth + p.effectiveFilterWidth <= p.inWidth
  );
}

/** Whether the (unpadded) windows tile the input exactly, so that every input element is in one window. */
export function poolWindowsCoverInput(p: { inHeight: number; inWidth: number; outHeight: number; outWidth: number; strideHeight: number; strideWidth: number; effectiveFilterHeight: number; effectiveFilterWidth: number }): boolean {
  return p.effectiveFilterHeight === p.strideHeight && p.effectiveFilterWidth === p.strideWidth && p.outHeight * p.strideHeight === p.inHeight && p.outWidth * p.strideWidth === p.inWidth;
}

/**
 * Routes each output gradient to the first maximum of its pooling window (row-major order, padding never
 * wins), exactly as the cpu backend does: as wasm SIMD on the heap for non-overlapping windows inside the
 * input (max-pool-grad-kernels.ts; 2×2 windows at stride 2, every CNN's pooling, with the window unrolled), a JS loop otherwise. Replaces tfjs-backend-wasm's kernel, whose running maximum starts
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
  const memory = wasmBackendMemory(args.backend);
  const kernels = memory && maxPoolGradKernels(memory);
  if (kernels && dy.dtype === 'float32' && simdPoolGradApplies({ ...info, dtype: input.dtype, top, left })) {
    // The kernels write every element of every window: only elements in no window need zeroing first.
    if (!poolWindowsCoverInput(info)) dx.fill(0);
    const pixel = c * 4;
    if (fh === 2 && fw === 2 && sh === 2 && sw === 2) kernels.maxPoolGrad2x2(xs.byteOffset, dys.byteOffset, dx.byteOffset, batchSize, oh, ow, pixel, h * w * pixel, w * pixel);
    else kernels.maxPoolGrad(xs.byteOffset, dys.byteOffset, dx.byteOffset, batchSize, oh, ow, fh, fw, pixel, h * w * pixel, sh * w * pixel, sw * pixel, w * pixel);
    return out;
  }
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
