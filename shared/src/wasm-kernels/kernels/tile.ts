import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';
import { replacementConfig, stockKernel } from '../stock-kernels.ts';

type View = Float32Array | Int32Array | Uint8Array;

/** Copies the block out[offset, offset + block) into the next `reps - 1` blocks, doubling each time. */
function repeatBlock(out: View, offset: number, block: number, reps: number): void {
  const total = block * reps;
  for (let done = block; done < total; ) {
    const n = Math.min(done, total - done);
    out.copyWithin(offset + done, offset, offset + n);
    done += n;
  }
}

/**
 * Tiles with block copies on the wasm heap: the innermost rows are copied from the input, then each axis's
 * finished block is replicated by doubling `copyWithin`s. tfjs-backend-wasm's Tile takes ~40 ms for a
 * [16] → [21632, 16] tile (the BatchNorm gradient); this is well under 1 ms.
 */
function tile(args: KernelArgs): tf.TensorInfo {
  const { x } = inputsOf<tf.TileInputs>(args);
  const { reps } = attrsOf<tf.TileAttrs>(args);
  if (x.dtype === 'string' || x.shape.length === 0 || reps.length !== x.shape.length) {
    return stockKernel(tf.Tile).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const inShape = x.shape;
  const rank = inShape.length;
  const outShape = inShape.map((d, i) => d * reps[i]!);
  const heap = asWasmHeapBackend(args.backend);
  const { out, outView, inputViews } = allocateWithViews(heap, outShape, x.dtype, [x]);
  const src = inputViews[0]!;
  if (outView.length === 0) return out;
  const inStrides = new Array<number>(rank);
  const outStrides = new Array<number>(rank);
  inStrides[rank - 1] = 1;
  outStrides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) {
    inStrides[i] = inStrides[i + 1]! * inShape[i + 1]!;
    outStrides[i] = outStrides[i + 1]! * outShape[i + 1]!;
  }
  const fill = (axis: number, outOffset: number, inOffset: number): void => {
    const d = inShape[axis]!;
    if (axis === rank - 1) {
      outView.set(src.subarray(inOffset, inOffset + d), outOffset);
    } else {
      for (let i = 0; i < d; i++) fill(axis + 1, outOffset + i * outStrides[axis]!, inOffset + i * inStrides[axis]!);
    }
    repeatBlock(outView, outOffset, d * outStrides[axis]!, reps[axis]!);
  };
  fill(0, 0, 0);
  return out;
}

export const tileConfig: tf.KernelConfig = replacementConfig(tf.Tile, tile as unknown as tf.KernelFunc);
