import type { Architecture } from './architecture.ts';
import { buildConvNet } from './conv-net.ts';

/**
 * The `cnn` with BatchNorm after each convolution: conv 8 → BN → ReLU → pool → conv 16 → BN → ReLU → pool →
 * dense logits. Its BatchNorm layers (γ, β, moving mean and variance) are what FedBN keeps local to each site
 * (docs/robustness.md#personalized-fine-tuning-and-per-site-robustness).
 */
export const cnnBn: Architecture = {
  name: 'cnn-bn',
  description: 'conv(8,3x3) → batchnorm → relu → maxpool → conv(16,3x3) → batchnorm → relu → maxpool → flatten [→ dropout] → dense(classes), logits',
  build: (options) => buildConvNet(options, true),
};
