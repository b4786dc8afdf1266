import type { Architecture } from './architecture.ts';
import { buildConvNet } from './conv-net.ts';

/**
 * Small convolutional network for 28×28 images: conv 8 → pool → conv 16 → pool → dense logits.
 * Training it on the wasm backend needs the kernels of `registerWasmTrainingKernels` (issue 3).
 */
export const cnn: Architecture = {
  name: 'cnn',
  description: 'conv(8,3x3) → maxpool → conv(16,3x3) → maxpool → flatten [→ dropout] → dense(classes), logits',
  build: (options) => buildConvNet(options, false),
};
