import * as tf from '@tensorflow/tfjs';
import { wasmTrainingKernelConfigs } from './kernel-configs.ts';

/**
 * Registers `wasmTrainingKernelConfigs` for the 'wasm' backend, replacing any stock kernel of the same name.
 * Call it before or after `tf.setBackend('wasm')`; calling it again changes nothing. Returns the names of
 * the kernels now served by this module.
 */
export function registerWasmTrainingKernels(): string[] {
  for (const config of wasmTrainingKernelConfigs) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
  return wasmTrainingKernelConfigs.map((c) => c.kernelName);
}
