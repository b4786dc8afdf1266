import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, wasmTrainingKernelConfigs } from '../../shared/src/wasm-kernels/index.ts';

const MISSING_IN_TFJS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum'];
const REPLACED = ['Conv2DBackpropInput', 'MaxPoolGrad', 'BatchMatMul', 'Tile', 'Sum', 'Add', 'Conv2D', 'Identity', '_FusedMatMul'];
const OWN = ['FedtuneReluGradBiasSum', 'FedtuneSignedStep', 'FedtuneSingleChannelConv']; // this module's own kernels (conv-bias-relu.ts, attacks/signed-step.ts), on no backend before

describe('registerWasmTrainingKernels', () => {
  it('registers every config for wasm, before the backend starts, and replaces the stock kernels', async () => {
    for (const name of [...MISSING_IN_TFJS, ...OWN]) expect(tf.getKernel(name, 'wasm'), name).toBeUndefined();
    const stock = REPLACED.map((name) => tf.getKernel(name, 'wasm'));
    const names = registerWasmTrainingKernels();
    expect(names.sort()).toEqual([...MISSING_IN_TFJS, ...REPLACED, ...OWN].sort());
    expect(wasmTrainingKernelConfigs.map((c) => c.kernelName).sort()).toEqual(names);
    for (const config of wasmTrainingKernelConfigs) {
      expect(config.backendName).toBe('wasm');
      expect(tf.getKernel(config.kernelName, 'wasm')).toBe(config);
    }
    REPLACED.forEach((name, i) => expect(tf.getKernel(name, 'wasm'), name).not.toBe(stock[i]));

    // The replacements run the stock kernels underneath, which must have been set up when wasm started.
    await tf.setBackend('wasm');
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(Array.from(tf.matMul(a, a, true, false).dataSync())).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
    expect(Array.from(tf.matMul(a, a, false, true).dataSync())).toEqual([14, 32, 32, 77]);
  });

  it('is idempotent', () => {
    const before = wasmTrainingKernelConfigs.map((c) => tf.getKernel(c.kernelName, 'wasm'));
    const names = registerWasmTrainingKernels();
    expect(registerWasmTrainingKernels()).toEqual(names);
    expect(wasmTrainingKernelConfigs.map((c) => tf.getKernel(c.kernelName, 'wasm'))).toEqual(before);
  });

  it('leaves other backends alone', () => {
    for (const name of MISSING_IN_TFJS) expect(tf.getKernel(name, 'cpu')?.backendName).toBe('cpu');
  });
});
