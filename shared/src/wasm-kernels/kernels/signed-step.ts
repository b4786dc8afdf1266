import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { signedStepKernels } from '../signed-step-kernels.ts';
import { newKernelConfig } from '../stock-kernels.ts';
import { asWasmHeapBackend } from '../wasm-heap.ts';

/** A kernel of this module only (tfjs has none): an L∞ attack's signed step, projected (signed-step-kernels.ts). */
export const SIGNED_STEP = 'FedtuneSignedStep';

export interface SignedStepInputs {
  x: tf.TensorInfo;
  /** The loss gradient with respect to x. */
  g: tf.TensorInfo;
  /** Per-value bounds the result is projected onto (PGD: the ε-ball intersected with the valid range). */
  lo: tf.TensorInfo;
  hi: tf.TensorInfo;
}

/**
 * min(max(x + step·sign(g), lo), hi) with an exact sign, for float32 x, g, lo, hi of one shape whose size is
 * a multiple of 4. The caller (attacks/signed-step.ts) checks those conditions and uses tf ops otherwise;
 * this kernel throws a plain Error if called without them. Not differentiable (attacks run outside tapes).
 */
function signedStep(args: KernelArgs): tf.TensorInfo {
  const { x, g, lo, hi } = inputsOf<SignedStepInputs>(args);
  const { step } = attrsOf<{ step: number }>(args);
  const memory = wasmBackendMemory(args.backend);
  const kernels = memory && signedStepKernels(memory);
  const tensors = [x, g, lo, hi];
  const size = tf.util.sizeFromShape(x.shape);
  if (!kernels || !Number.isFinite(step) || size % 4 !== 0 || tensors.some((t) => t.dtype !== 'float32' || !tf.util.arraysEqual(t.shape, x.shape))) {
    throw new Error(`${SIGNED_STEP}: needs float32 x, g, lo and hi of one shape with a size that is a multiple of 4, a finite step, and wasm SIMD`);
  }
  const heap = asWasmHeapBackend(args.backend);
  const out = heap.makeOutput(x.shape, 'float32');
  // Views after the allocation: it can grow the heap and detach earlier views.
  const [xs, gs, los, his, outs] = [...tensors, out].map((t) => heap.typedArrayFromHeap(t));
  kernels.signedStep(xs!.byteOffset, gs!.byteOffset, los!.byteOffset, his!.byteOffset, outs!.byteOffset, size * 4, step, -step);
  return out;
}

export const signedStepConfig: tf.KernelConfig = newKernelConfig(SIGNED_STEP, signedStep as unknown as tf.KernelFunc);
