import type * as tf from '@tensorflow/tfjs';

/**
 * The part of the wasm backend (`BackendWasm` of @tensorflow/tfjs-backend-wasm) that kernels written as
 * plain loops need: allocate an output on the wasm heap and view tensors there as typed arrays.
 */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function asWasmHeapBackend(backend: unknown): WasmHeapBackend {
  const b = backend as Partial<WasmHeapBackend> | null;
  if (typeof b?.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function') {
    throw new Error('wasm training kernel: expected the wasm backend');
  }
  return b as WasmHeapBackend;
}

/**
 * Allocates the output first (allocation may grow the wasm memory and detach earlier views), then returns
 * fresh views of the inputs and the output.
 */
export function allocateWithViews(
  backend: WasmHeapBackend,
  shape: number[],
  dtype: tf.DataType,
  inputs: tf.TensorInfo[],
): { out: tf.TensorInfo; outView: Float32Array | Int32Array | Uint8Array; inputViews: Array<Float32Array | Int32Array | Uint8Array> } {
  const out = backend.makeOutput(shape, dtype);
  const outView = backend.typedArrayFromHeap(out);
  const inputViews = inputs.map((t) => backend.typedArrayFromHeap(t));
  return { out, outView, inputViews };
}
