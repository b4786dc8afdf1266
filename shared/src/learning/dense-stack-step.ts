import * as tf from '@tensorflow/tfjs';
import type { DenseLayerFields } from '../wasm-kernels/fused-forward.ts';
import { smallGemmKernels, type SmallGemmKernels } from '../wasm-kernels/small-gemm-kernels.ts';
import { wasmBackendMemory } from '../wasm-kernels/optimizer-kernels.ts';
import { asWasmHeapBackend, type WasmHeapBackend } from '../wasm-kernels/wasm-heap.ts';
import { softmaxCrossEntropyRows, type BatchStats } from './softmax-cross-entropy.ts';

/**
 * The forward and backward pass of a model that is a plain stack of Dense layers (the built-in `mlp`, a
 * tabular classifier such as DISCO's titanic network) as a handful of calls on tfjs-backend-wasm's heap,
 * without tfjs's engine: per layer one product forward (bias and ReLU inside it: small-gemm-kernels.ts), and
 * backward one product for the kernel's gradient, one for the input's (only while a trainable layer lies
 * below) and a JS pass for ReLU's mask and the bias's gradient; the loss is the fused softmax cross-entropy's
 * arithmetic (softmaxCrossEntropyRows). The gradients land in heap tensors the step owns, which the fused
 * optimizer reads.
 *
 * Why: such a model's step is a few hundred thousand multiply-adds, and through tfjs it is ~40 kernel launches,
 * a tape and their tensors — 0.6–1.5 ms of engine time per batch of 30 on a 5-124-64-32-2 network whose
 * products take ~0.1 ms, and more while the engine's JavaScript is still cold (a site's first rounds).
 *
 * Same numbers as the tape's pass up to float32 summation order (each product sums k = 0, 1, … in float32, the
 * bias added to the finished sum). Applies only where it is exact in that sense: a Sequential model of
 * InputLayer, Flatten (channels last), Dropout at rate 0 and Dense layers (float32, bias, ReLU or linear
 * activation, no regularizer or constraint, rank-2 input), every trainable variable a Dense kernel or bias, on
 * the wasm backend with SIMD; `denseStackStep` returns undefined otherwise and the caller keeps the tape.
 */
export interface DenseStackStep {
  /** Gradient tensors aligned with the step's variables (owned by the step: do not dispose; rewritten by each `run`). */
  readonly gradients: readonly tf.Tensor[];
  /** Forward and backward on the first `count` rows of `x` (labels already checked); fills `gradients`. */
  run(x: Float32Array, y: Int32Array, count: number): BatchStats;
  /** The lowest layer of the stack (0: the first Dense) with a trained weight: the backward pass stops there. */
  readonly lowestTrainedLayer: number;
  dispose(): void;
}

/** One Dense layer of the stack: its sizes, activation and where its gradients go (-1: not trained). */
interface StackLayer {
  kernel: tf.Variable;
  bias: tf.Variable;
  inputs: number;
  units: number;
  relu: boolean;
  kernelGrad: number;
  biasGrad: number;
}

/** The Dense layers of `model` if the whole model is a stack this step can run exactly, else undefined. */
function stackLayers(model: tf.LayersModel, variables: readonly tf.Variable[]): StackLayer[] | undefined {
  if (model.getClassName() !== 'Sequential') return undefined;
  const layers: StackLayer[] = [];
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (kind === 'InputLayer') continue;
    if (kind === 'Flatten') {
      if ((layer as unknown as { dataFormat?: string }).dataFormat === 'channelsFirst') return undefined;
      continue;
    }
    if (kind === 'Dropout') {
      if ((layer as unknown as { rate?: number }).rate !== 0) return undefined;
      continue;
    }
    if (kind !== 'Dense') return undefined;
    const l = layer as unknown as DenseLayerFields;
    // Stryker disable next-line OptionalChaining: equivalent: a Dense layer always has an activation object (linear when none is named).
    const act = l.activation?.getClassName();
    // Stryker disable next-line ConditionalExpression: `useBias` alone is equivalent: a Dense layer without a bias has none to read (`!l.bias`).
    if ((act !== 'relu' && act !== 'linear') || l.useBias !== true || !l.bias || !l.kernel) return undefined;
    // Stryker disable next-line ConditionalExpression: the activity-regularizer test is unreachable today (tfjs 4.22 refuses to build a layer that has one) and kept for a tfjs that allows it.
    if (l.kernelRegularizer != null || l.biasRegularizer != null || l.activityRegularizer != null || l.kernelConstraint != null || l.biasConstraint != null) return undefined;
    // A Dense kernel is a float32 [inputs, units] matrix; on a rank-2 input each layer's inputs are the units of
    // the one below (Flatten of a rank-2 tensor and Dropout keep the shape).
    const kernel = l.kernel.read() as tf.Variable;
    const bias = l.bias.read() as tf.Variable;
    const [inputs, units] = kernel.shape as [number, number];
    // Stryker disable next-line OptionalChaining: equivalent: a layer of a built model has an input (the step is made after the model is built).
    const inputShape = layer.batchInputShape ?? (layer.input as tf.SymbolicTensor | undefined)?.shape;
    if (!inputShape || inputShape.length !== 2) return undefined;
    layers.push({ kernel, bias, inputs, units, relu: act === 'relu', kernelGrad: variables.indexOf(kernel), biasGrad: variables.indexOf(bias) });
  }
  if (layers.length === 0) return undefined;
  // Every trainable variable must be one of the stack's (else something the step does not compute would train).
  const owned = new Set(layers.flatMap((l) => [l.kernelGrad, l.biasGrad]).filter((i) => i >= 0));
  if (owned.size !== variables.length) return undefined;
  return layers;
}

/**
 * The step for `model` with `variables` (its trainable weights, in the order the optimizer takes them), or
 * undefined when the model is not such a stack or the backend is not wasm with SIMD.
 */
export function denseStackStep(model: tf.LayersModel, variables: readonly tf.Variable[]): DenseStackStep | undefined {
  // Only the wasm backend has a heap (wasmBackendMemory: undefined elsewhere).
  const backend = tf.backend();
  const memory = wasmBackendMemory(backend);
  const kernels = memory && smallGemmKernels(memory);
  if (!memory || !kernels) return undefined;
  const layers = stackLayers(model, variables);
  if (!layers) return undefined;
  return new HeapDenseStackStep(layers, variables, asWasmHeapBackend(backend), memory, kernels);
}

class HeapDenseStackStep implements DenseStackStep {
  readonly gradients: tf.Tensor[];
  /** The workspace (one heap tensor) and its capacity in rows. */
  private workspace: tf.TensorInfo | undefined;
  private rows = 0;
  /** Float offsets into the workspace: the input, each layer's output, two gradient buffers, the transposed kernel. */
  private input = 0;
  // Stryker disable next-line ArrayDeclaration: equivalent: set by `reserve` before any use.
  private outputs: number[] = [];
  // Stryker disable next-line ArrayDeclaration: equivalent: set by `reserve` before any use.
  private delta = [0, 0];
  private transposed = 0;
  readonly lowestTrainedLayer: number;

  constructor(
    private readonly layers: StackLayer[],
    variables: readonly tf.Variable[],
    private readonly backend: WasmHeapBackend,
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: SmallGemmKernels,
  ) {
    this.gradients = variables.map((v) => tf.keep(tf.engine().makeTensorFromTensorInfo(backend.makeOutput(v.shape, 'float32'))));
    this.lowestTrainedLayer = layers.findIndex((l) => l.kernelGrad >= 0 || l.biasGrad >= 0);
  }

  /** Room for `count` rows: the workspace is reallocated (larger) only when a batch outgrows it. */
  private reserve(count: number): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent but for speed: a new workspace each time (the old one freed) computes the same.
    if (count <= this.rows && this.workspace) return;
    if (this.workspace) (tf.backend() as tf.KernelBackend).disposeData(this.workspace.dataId);
    // The gradient buffers hold a layer's dZ (its units) or the input gradient of a layer above the first (the units
    // of the one below it); the first layer's input gradient and transposed kernel are never needed.
    const widest = Math.max(...this.layers.map((l) => l.units));
    let at = 0;
    const take = (n: number): number => {
      const o = at;
      // Stryker disable next-line ArithmeticOperator: equivalent but for speed and room: wasm SIMD loads need no alignment, and more padding only spaces the buffers out.
      at += n + ((4 - (n % 4)) % 4); // 16-byte aligned
      return o;
    };
    this.input = take(count * this.layers[0]!.inputs);
    this.outputs = this.layers.map((l) => take(count * l.units));
    this.delta = [take(count * widest), take(count * widest)];
    // Stryker disable next-line MethodExpression: equivalent but for room: counting the first layer only makes the buffer larger.
    this.transposed = take(Math.max(0, ...this.layers.slice(1).map((l) => l.inputs * l.units)));
    this.workspace = this.backend.makeOutput([Math.max(at, 4)], 'float32');
    this.rows = count;
  }

  run(x: Float32Array, y: Int32Array, count: number): BatchStats {
    this.reserve(count);
    const { layers, kernels } = this;
    // Offsets only after every allocation (growing the memory detaches views, not offsets).
    const base = this.backend.typedArrayFromHeap(this.workspace!).byteOffset;
    const offsetOf = (t: tf.TensorInfo): number => this.backend.typedArrayFromHeap(t).byteOffset;
    const heap = new Float32Array(this.memory.buffer);
    const at = (floats: number) => base + 4 * floats;
    // Stryker disable next-line ArithmeticOperator: equivalent: the input is the workspace's first buffer (offset 0).
    heap.set(x.subarray(0, count * layers[0]!.inputs), base / 4 + this.input);
    // Forward: out = act(in · W + b), one product per layer.
    const w = layers.map((l) => offsetOf(l.kernel));
    const b = layers.map((l) => offsetOf(l.bias));
    let inOffset = this.input;
    layers.forEach((l, i) => {
      kernels.gemm(at(inOffset), 4 * l.inputs, 4, w[i]!, at(this.outputs[i]!), count, l.inputs, l.units, b[i]!, 1, l.relu ? 1 : 0);
      inOffset = this.outputs[i]!;
    });
    // The loss and its gradient with respect to the logits.
    const top = layers[layers.length - 1]!;
    // Stryker disable next-line ArithmeticOperator: equivalent: a later end only lengthens the view; the loss reads count × units of it.
    const logits = heap.subarray(base / 4 + this.outputs[layers.length - 1]!, base / 4 + this.outputs[layers.length - 1]! + count * top.units);
    let current = 0;
    // Stryker disable next-line ArithmeticOperator: equivalent: as above, for the gradient's view.
    const stats = softmaxCrossEntropyRows(logits, y.subarray(0, count), count, top.units, heap.subarray(base / 4 + this.delta[current]!, base / 4 + this.delta[current]! + count * top.units));
    // Backward, from the top down to the lowest trained layer.
    for (let i = layers.length - 1; i >= this.lowestTrainedLayer; i--) {
      const l = layers[i]!;
      const d = base / 4 + this.delta[current]!;
      const out = base / 4 + this.outputs[i]!;
      const n = count * l.units;
      // ReLU's mask (the output is positive where the unit passed its input), in place.
      // Stryker disable next-line EqualityOperator: equivalent: one more zero lands on the first value after this layer's gradient, which the next product overwrites before reading.
      if (l.relu) for (let e = 0; e < n; e++) if (!(heap[out + e]! > 0)) heap[d + e] = 0;
      const below = i === 0 ? this.input : this.outputs[i - 1]!;
      if (l.biasGrad >= 0) {
        const g = this.backend.typedArrayFromHeap(this.gradients[l.biasGrad]!) as Float32Array;
        g.fill(0);
        // Stryker disable next-line EqualityOperator: equivalent: g[units] is past the typed array's end, a write it ignores.
        for (let r = 0; r < count; r++) for (let j = 0, e = d + r * l.units; j < l.units; j++, e++) g[j] = Math.fround(g[j]! + heap[e]!);
      }
      // dW = inᵀ · dZ: `in` read through its strides as [inputs, count].
      if (l.kernelGrad >= 0) kernels.gemm(at(below), 4, 4 * l.inputs, 4 * d, offsetOf(this.gradients[l.kernelGrad]!), l.inputs, count, l.units, 0, 0, 0);
      if (i === this.lowestTrainedLayer) break;
      // dIn = dZ · Wᵀ: Wᵀ copied row-major first.
      const wt = base / 4 + this.transposed;
      const wv = w[i]! / 4;
      for (let r = 0; r < l.inputs; r++) for (let j = 0; j < l.units; j++) heap[wt + j * l.inputs + r] = heap[wv + r * l.units + j]!;
      const next = 1 - current;
      kernels.gemm(4 * d, 4 * l.units, 4, 4 * wt, at(this.delta[next]!), count, l.units, l.inputs, 0, 0, 0);
      current = next;
    }
    return stats;
  }

  dispose(): void {
    tf.dispose(this.gradients);
    if (this.workspace) (tf.backend() as tf.KernelBackend).disposeData(this.workspace.dataId);
    this.workspace = undefined;
  }
}
