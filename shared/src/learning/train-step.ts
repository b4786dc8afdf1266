/**
 * The site's training step, one batch at a time: `createTrainStep(model, settings)` → `TrainStep`.
 *
 * - `step(x, y, count)`: one optimizer step on the first `count` examples of `x` (count × the model's input
 *   size values, row-major, as a Dataset holds them) and `y` (class indices). One forward and one backward
 *   pass (`tf.variableGrads`) over the fused softmax cross-entropy (softmax-cross-entropy.ts) — on wasm a
 *   Sequential model's Conv2D + bias + ReLU layers run as one fused op (wasm-kernels/fused-forward.ts) —, then the fused
 *   optimizer update (fused-optimizer.ts: one pass per variable on the wasm heap; the stock tfjs optimizer on
 *   other backends). A model that is a plain stack of Dense layers (the built-in `mlp`, tabular networks) skips
 *   the tape on wasm: its forward and backward run as a few products on the heap (dense-stack-step.ts, the same
 *   numbers; `usesDenseStack` says which). Returns the batch's mean loss and correct count. The model runs in training mode
 *   (dropout, BatchNorm statistics), and layer regularizers (`kernelRegularizer`…) are added to the loss as
 *   `model.fit` adds them.
 * - `computeGradients(x, y, count)`: the same forward and backward pass without the update; returns the loss,
 *   the correct count and one Float32Array per trainable variable (order of `variables`).
 * - `applyGradients(grads)`: the optimizer update with those arrays (e.g. averaged over data-parallel
 *   workers): `computeGradients` then `applyGradients` equals `step`.
 * - `dispose()`: releases the optimizer state (the model stays the caller's).
 *
 * The trainable variables are fixed when the step is created (set `layer.trainable` before). Same numbers as
 * `model.fit` with `tf.losses.softmaxCrossEntropy`, `shuffle: false` and the same optimizer, up to float32
 * rounding of exp/log. Leaks no tensors; bad input throws a FedtuneError ('data' / 'shape_mismatch').
 */
import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import { createFusedOptimizer, type FusedOptimizer, type OptimizerSettings } from './fused-optimizer.ts';
import { modelInputShape } from './dataset-tensors.ts';
import { softmaxCrossEntropyFromLabels, type BatchStats } from './softmax-cross-entropy.ts';
import { applyForTraining } from '../wasm-kernels/fused-forward.ts';
import { denseStackStep } from './dense-stack-step.ts';

export interface TrainStep {
  /** The trainable variables, in the order of the gradient arrays. */
  readonly variables: readonly tf.Variable[];
  /** Values per example in `x`. */
  readonly inputSize: number;
  /** Whether forward and backward run as a Dense stack on the wasm heap (dense-stack-step.ts) rather than through the tape. */
  readonly usesDenseStack: boolean;
  step(x: Float32Array, y: Int32Array, count: number): BatchStats;
  computeGradients(x: Float32Array, y: Int32Array, count: number): BatchStats & { gradients: Float32Array[] };
  applyGradients(gradients: ReadonlyArray<Float32Array>): void;
  dispose(): void;
}

/** The model's layer regularization losses (what model.fit adds to the loss), or none. */
function regularizationLosses(model: tf.LayersModel): tf.Scalar[] {
  const calculate = (model as unknown as { calculateLosses?: () => tf.Scalar[] }).calculateLosses;
  return typeof calculate === 'function' ? calculate.call(model) : [];
}

export interface TrainStepOptions {
  /** Run a plain Dense stack on the wasm heap when the model is one (dense-stack-step.ts). Default true; false keeps the tape (the reference in tests and benches). */
  denseStack?: boolean;
}

export function createTrainStep(model: tf.LayersModel, settings: OptimizerSettings, options: TrainStepOptions = {}): TrainStep {
  const inputShape = modelInputShape(model);
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (variables.length === 0) throw new FedtuneError('config', 'the model has no trainable weights');
  const numClasses = model.outputs[0]!.shape[model.outputs[0]!.shape.length - 1];
  if (model.outputs.length !== 1 || model.outputs[0]!.shape.length !== 2 || !numClasses) {
    throw new FedtuneError('config', 'the model must have one output of shape [batch, classes] (logits)');
  }
  const optimizer: FusedOptimizer = createFusedOptimizer(settings, variables);
  // A plain stack of Dense layers on wasm: forward and backward without the tape (dense-stack-step.ts).
  const stack = optimizer.onHeap && options.denseStack !== false ? denseStackStep(model, variables) : undefined;

  const checkBatch = (x: Float32Array, y: Int32Array, count: number): Int32Array => {
    if (!Number.isInteger(count) || count < 1 || count > y.length || count * inputSize > x.length) {
      throw new FedtuneError('shape_mismatch', `a batch of ${count} needs ${count} labels and ${count * inputSize} input values (got ${y.length} and ${x.length})`);
    }
    const labels = y.subarray(0, count);
    for (let i = 0; i < count; i++) {
      const label = labels[i]!;
      if (!(label >= 0 && label < numClasses)) throw new FedtuneError('data', `example ${i} of the batch has label ${label}, outside 0..${numClasses - 1}`);
    }
    return labels;
  };

  /** Forward and backward on the batch; the caller disposes the gradients. */
  const gradients = (x: Float32Array, y: Int32Array, count: number): { stats: BatchStats; grads: tf.Tensor[] } => {
    const labels = checkBatch(x, y, count);
    const stats: BatchStats = { loss: NaN, correct: 0 };
    let regularization = 0;
    // One tidy: whatever throws inside (the model, the loss), the batch and the tape's tensors are released.
    const grads = tf.tidy(() => {
      const input = tf.tensor(x.subarray(0, count * inputSize), [count, ...inputShape], 'float32');
      const { grads: named } = tf.variableGrads(() => {
        const logits = applyForTraining(model, input); // Conv2D+bias+ReLU fused on wasm (wasm-kernels/fused-forward.ts)
        const loss = softmaxCrossEntropyFromLabels(logits, labels, stats);
        const regs = regularizationLosses(model);
        if (regs.length === 0) return loss;
        const total = tf.addN([loss, ...regs]) as tf.Scalar;
        regularization = total.dataSync()[0]! - stats.loss;
        return total;
      }, variables);
      return variables.map((v) => named[v.name]!);
    });
    stats.loss += regularization;
    return { stats, grads };
  };

  return {
    variables,
    inputSize,
    usesDenseStack: stack !== undefined,
    step(x, y, count) {
      if (stack) {
        const stats = stack.run(x, checkBatch(x, y, count), count);
        optimizer.applyTensors(stack.gradients);
        return stats;
      }
      const { stats, grads } = gradients(x, y, count);
      try {
        optimizer.applyTensors(grads);
      } finally {
        tf.dispose(grads.filter(Boolean));
      }
      return stats;
    },
    computeGradients(x, y, count) {
      if (stack) {
        const stats = stack.run(x, checkBatch(x, y, count), count);
        return { ...stats, gradients: stack.gradients.map((g) => (g.dataSync() as Float32Array).slice()) };
      }
      const { stats, grads } = gradients(x, y, count);
      try {
        return { ...stats, gradients: grads.map((g, i) => (g ? (g.dataSync() as Float32Array).slice() : new Float32Array(variables[i]!.size))) };
      } finally {
        tf.dispose(grads.filter(Boolean));
      }
    },
    applyGradients(grads) {
      optimizer.applyArrays(grads);
    },
    dispose() {
      optimizer.dispose();
      stack?.dispose();
    },
  };
}
