import * as tf from '@tensorflow/tfjs';
// tfjs-backend-wasm, registered with a factory that does not leave its Emscripten module's fatal process listeners.
import './wasm-backend-factory.ts';

/** Marks the kernel functions of this module so a second load never mistakes them for tfjs's own. */
export const OWN_KERNEL = Symbol.for('fedtune.wasmTrainingKernel');

type StockMap = Map<string, tf.KernelConfig>;
const STOCK_KEY = Symbol.for('fedtune.wasmStockKernels');
const globalStore = globalThis as unknown as Record<symbol, StockMap | undefined>;
const stock: StockMap = (globalStore[STOCK_KEY] ??= new Map());

function isOwn(config: tf.KernelConfig): boolean {
  return (config.kernelFunc as unknown as Record<symbol, unknown>)[OWN_KERNEL] === true;
}

/**
 * tfjs-backend-wasm's own config for `kernelName`, remembered the first time it is seen so a replacement
 * can fall back to it (or run it on pre-transposed inputs) after overriding it in the registry.
 */
export function stockKernel(kernelName: string): tf.KernelConfig {
  let config = stock.get(kernelName);
  if (!config) {
    const current = tf.getKernel(kernelName, 'wasm');
    if (!current || isOwn(current)) throw new Error(`no stock wasm kernel '${kernelName}' to fall back on`);
    config = current;
    stock.set(kernelName, config);
  }
  return config;
}

/** Tags a kernel function as ours (see OWN_KERNEL) and returns it. */
export function ownKernel<F extends tf.KernelFunc>(kernelFunc: F): F {
  Object.defineProperty(kernelFunc, OWN_KERNEL, { value: true });
  return kernelFunc;
}

/**
 * A config that replaces tfjs-backend-wasm's `kernelName`. Its setup and dispose delegate to the stock
 * kernel's, so the stock kernel stays usable when this one is registered before the backend starts.
 */
export function replacementConfig(kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelConfig {
  stockKernel(kernelName); // capture it now, while it is still the registered one
  return {
    kernelName,
    backendName: 'wasm',
    setupFunc: (backend) => stockKernel(kernelName).setupFunc?.(backend),
    disposeFunc: (backend) => stockKernel(kernelName).disposeFunc?.(backend),
    kernelFunc: ownKernel(kernelFunc),
  };
}

/** A config for a kernel tfjs-backend-wasm lacks. */
export function newKernelConfig(kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelConfig {
  return { kernelName, backendName: 'wasm', kernelFunc: ownKernel(kernelFunc) };
}
