import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { asWasmHeapBackend, type WasmHeapBackend } from '../wasm-kernels/wasm-heap.ts';
import { optimizerKernels, wasmBackendMemory, type OptimizerKernels } from '../wasm-kernels/optimizer-kernels.ts';
import { adamStepConstants, adamUpdate, momentumUpdate, sgdUpdate } from './optimizer-updates.ts';

/** The optimizer settings a site trains with (TrainConfig's). */
export type OptimizerSettings = Pick<TrainConfig, 'optimizer' | 'learningRate'>;

/** tfjs's constants for the three optimizers (tf.train.adam defaults, momentum 0.9 as fitLocal always used). */
export const OPTIMIZER_CONSTANTS = Object.freeze({ beta1: 0.9, beta2: 0.999, momentum: 0.9 });

/**
 * Applies gradients to a fixed list of variables with the config's optimizer (SGD, momentum 0.9 or Adam),
 * with exactly tfjs's formulas. On the wasm backend each variable and its moment buffers (heap tensors) are
 * updated in one pass over the wasm heap by a SIMD kernel (wasm-kernels/optimizer-kernels.ts; the scalar
 * loops of optimizer-updates.ts without SIMD). Elsewhere (cpu, webgl) it delegates to the stock `tf.train`
 * optimizer. `dispose()` releases the moments.
 */
export interface FusedOptimizer {
  /** True when updates run on the wasm heap, false when the stock tfjs optimizer runs them. */
  readonly onHeap: boolean;
  /** One step with tensor gradients aligned with the variables (undefined: that variable has no gradient). */
  applyTensors(grads: ReadonlyArray<tf.Tensor | undefined>): void;
  /** One step with gradients as arrays aligned with the variables (each of the variable's size). */
  applyArrays(grads: ReadonlyArray<Float32Array>): void;
  dispose(): void;
}

function stockOptimizer(settings: OptimizerSettings): tf.Optimizer {
  switch (settings.optimizer) {
    case 'sgd':
      return tf.train.sgd(settings.learningRate);
    case 'momentum':
      return tf.train.momentum(settings.learningRate, OPTIMIZER_CONSTANTS.momentum);
    case 'adam':
      return tf.train.adam(settings.learningRate);
  }
}

function checkArrays(vars: readonly tf.Variable[], grads: ReadonlyArray<Float32Array>): void {
  if (grads.length !== vars.length) throw new FedtuneError('shape_mismatch', `expected ${vars.length} gradients, got ${grads.length}`);
  grads.forEach((g, i) => {
    if (!(g instanceof Float32Array) || g.length !== vars[i]!.size) {
      throw new FedtuneError('shape_mismatch', `gradient ${i} has ${g?.length ?? 0} values, expected ${vars[i]!.size}`);
    }
  });
}

/** The stock tfjs optimizer behind the FusedOptimizer interface (non-wasm backends). */
class StockFusedOptimizer implements FusedOptimizer {
  readonly onHeap = false;
  private readonly optimizer: tf.Optimizer;
  constructor(
    settings: OptimizerSettings,
    private readonly vars: readonly tf.Variable[],
  ) {
    this.optimizer = stockOptimizer(settings);
  }
  applyTensors(grads: ReadonlyArray<tf.Tensor | undefined>): void {
    const named: tf.NamedTensorMap = {};
    this.vars.forEach((v, i) => {
      const g = grads[i];
      if (g) named[v.name] = g;
    });
    this.optimizer.applyGradients(named);
  }
  applyArrays(grads: ReadonlyArray<Float32Array>): void {
    checkArrays(this.vars, grads);
    const tensors = grads.map((g, i) => tf.tensor(g, this.vars[i]!.shape, 'float32'));
    try {
      this.applyTensors(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
  dispose(): void {
    this.optimizer.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose forgets the −lr scalar it inherits from SGDOptimizer.
    if (this.optimizer instanceof tf.MomentumOptimizer) (this.optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  }
}

/**
 * The fused update on the wasm heap: the moment buffers are heap tensors, and each variable's update is one
 * call of the SIMD kernel of wasm-kernels/optimizer-kernels.ts (scalar loops for the last n mod 4 values, and
 * for everything on a runtime without wasm SIMD).
 */
class HeapFusedOptimizer implements FusedOptimizer {
  readonly onHeap = true;
  private readonly first: tf.Tensor[];
  private readonly second: tf.Tensor[];
  /** β₁ᵗ and β₂ᵗ as float32, as tfjs keeps them in scalar variables. */
  private accBeta1 = Math.fround(OPTIMIZER_CONSTANTS.beta1);
  private accBeta2 = Math.fround(OPTIMIZER_CONSTANTS.beta2);
  private readonly epsilon: number;
  private readonly kernels: OptimizerKernels | undefined;
  constructor(
    private readonly settings: OptimizerSettings,
    private readonly vars: readonly tf.Variable[],
    private readonly backend: WasmHeapBackend,
  ) {
    for (const v of vars) if (v.dtype !== 'float32') throw new FedtuneError('dtype_mismatch', `variable ${v.name} is ${v.dtype}, expected float32`);
    this.first = settings.optimizer === 'sgd' ? [] : vars.map((v) => tf.zeros(v.shape, 'float32'));
    this.second = settings.optimizer === 'adam' ? vars.map((v) => tf.zeros(v.shape, 'float32')) : [];
    this.epsilon = tf.backend().epsilon();
    const memory = wasmBackendMemory(backend);
    this.kernels = memory ? optimizerKernels(memory) : undefined;
  }

  /**
   * One step: for every variable with a gradient, a new heap buffer receives the updated values in one pass
   * over the old values, the gradient and the moments, and the variable is pointed at it. The update is not
   * written in place: tfjs-backend-wasm caches XNNPACK's packed weights by data id (a matMul or conv filter
   * written in place would keep its stale packing), and clones of a variable share its data.
   */
  private step(grads: ReadonlyArray<tf.TensorInfo | undefined>): void {
    const outs = this.vars.map((v, i) => (grads[i] ? this.backend.makeOutput(v.shape, 'float32') : undefined));
    // Views only after every allocation: growing the wasm memory detaches earlier views.
    const heap = (t: tf.TensorInfo): Float32Array => this.backend.typedArrayFromHeap(t) as Float32Array;
    const { optimizer, learningRate } = this.settings;
    const c = optimizer === 'adam' ? adamStepConstants(learningRate, OPTIMIZER_CONSTANTS.beta1, OPTIMIZER_CONSTANTS.beta2, this.epsilon, this.accBeta1, this.accBeta2) : undefined;
    const k = this.kernels;
    this.vars.forEach((v, i) => {
      const gt = grads[i];
      const out = outs[i];
      if (!gt || !out) return;
      const [w, g, o] = [heap(v), heap(gt), heap(out)];
      const m = this.first[i] ? heap(this.first[i]!) : undefined;
      const s = this.second[i] ? heap(this.second[i]!) : undefined;
      // The SIMD kernel takes the first multiple of 4; the scalar loop the rest (or everything without SIMD).
      const simd = k ? w.length - (w.length % 4) : 0;
      const bytes = simd * 4;
      const tail = (a: Float32Array): Float32Array => a.subarray(simd);
      if (c) {
        if (k && bytes) k.adam(w.byteOffset, g.byteOffset, m!.byteOffset, s!.byteOffset, o.byteOffset, bytes, c.beta1, c.beta2, c.oneMinusBeta1, c.oneMinusBeta2, c.oneMinusAccBeta1, c.oneMinusAccBeta2, c.epsilon, c.negLr);
        adamUpdate(tail(o), tail(w), tail(g), tail(m!), tail(s!), c);
      } else if (optimizer === 'momentum') {
        if (k && bytes) k.momentum(w.byteOffset, g.byteOffset, m!.byteOffset, o.byteOffset, bytes, Math.fround(-learningRate), Math.fround(OPTIMIZER_CONSTANTS.momentum));
        momentumUpdate(tail(o), tail(w), tail(g), tail(m!), -learningRate, OPTIMIZER_CONSTANTS.momentum);
      } else {
        if (k && bytes) k.sgd(w.byteOffset, g.byteOffset, o.byteOffset, bytes, Math.fround(-learningRate));
        sgdUpdate(tail(o), tail(w), tail(g), -learningRate);
      }
    });
    if (c) {
      this.accBeta1 = Math.fround(this.accBeta1 * c.beta1);
      this.accBeta2 = Math.fround(this.accBeta2 * c.beta2);
    }
    this.vars.forEach((v, i) => {
      const out = outs[i];
      if (!out) return;
      const t = tf.engine().makeTensorFromTensorInfo(out);
      v.assign(t);
      t.dispose();
    });
  }

  applyTensors(grads: ReadonlyArray<tf.Tensor | undefined>): void {
    if (grads.length !== this.vars.length) throw new FedtuneError('shape_mismatch', `expected ${this.vars.length} gradients, got ${grads.length}`);
    grads.forEach((g, i) => {
      if (g && (g.dtype !== 'float32' || g.size !== this.vars[i]!.size)) throw new FedtuneError('shape_mismatch', `gradient ${i} does not match variable ${this.vars[i]!.name}`);
    });
    this.step(grads);
  }

  applyArrays(grads: ReadonlyArray<Float32Array>): void {
    checkArrays(this.vars, grads);
    const onHeap = grads.map((g, i) => tf.tensor(g, this.vars[i]!.shape, 'float32'));
    try {
      this.step(onHeap);
    } finally {
      tf.dispose(onHeap);
    }
  }

  dispose(): void {
    tf.dispose([...this.first, ...this.second]);
  }
}

/** A FusedOptimizer for `vars` on the active backend: on the wasm heap under 'wasm', the stock optimizer elsewhere. */
export function createFusedOptimizer(settings: OptimizerSettings, vars: readonly tf.Variable[]): FusedOptimizer {
  if (tf.getBackend() === 'wasm') {
    return new HeapFusedOptimizer(settings, vars, asWasmHeapBackend(tf.backend()));
  }
  return new StockFusedOptimizer(settings, vars);
}
