import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';
import { newKernelConfig } from '../stock-kernels.ts';

/**
 * out[s, ...] = Σ_{i: ids[i] = s} x[i, ...], for 0 ≤ s < numSegments; ids outside that range are dropped
 * (as in TensorFlow). The gradient of gather / embedding lookups. One pass over the wasm heap.
 */
function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = inputsOf<tf.UnsortedSegmentSumInputs>(args);
  const { numSegments } = attrsOf<tf.UnsortedSegmentSumAttrs>(args);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const idsRank = segmentIds.shape.length;
  const inner = tf.util.sizeFromShape(x.shape.slice(idsRank));
  const heap = asWasmHeapBackend(args.backend);
  const { out, outView, inputViews } = allocateWithViews(heap, [numSegments, ...x.shape.slice(idsRank)], x.dtype, [x, segmentIds]);
  const [xs, ids] = inputViews as [Float32Array | Int32Array, Int32Array | Float32Array];
  outView.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (!(s >= 0 && s < numSegments)) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) outView[dst + j]! += xs[src + j]!;
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = newKernelConfig(
  tf.UnsortedSegmentSum,
  unsortedSegmentSum as unknown as tf.KernelFunc,
);
