import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './architecture.ts';

/**
 * The `cnn` with BatchNorm after each convolution: conv 8 → BN → ReLU → pool → conv 16 → BN → ReLU → pool →
 * dense logits. Its BatchNorm layers (γ, β, moving mean and variance) are what FedBN keeps local to each site
 * (docs/robustness.md#personalized-fine-tuning-and-per-site-robustness).
 */
export const cnnBn: Architecture = {
  name: 'cnn-bn',
  description: 'conv(8,3x3) → batchnorm → relu → maxpool → conv(16,3x3) → batchnorm → relu → maxpool → flatten [→ dropout] → dense(classes), logits',
  build({ inputShape, numClasses, seed, dropout }) {
    const shape = inputShape.length === 1 ? [28, 28, 1] : inputShape;
    return tf.sequential({
      name: 'cnn_bn',
      layers: [
        ...(inputShape.length === 1 ? [tf.layers.reshape({ inputShape, targetShape: shape, name: 'to_image' })] : []),
        tf.layers.conv2d({
          ...(inputShape.length === 1 ? {} : { inputShape: shape }),
          filters: 8,
          kernelSize: 3,
          useBias: false,
          name: 'conv1',
          kernelInitializer: tf.initializers.heNormal({ seed }),
        }),
        tf.layers.batchNormalization({ name: 'bn1' }),
        tf.layers.activation({ activation: 'relu', name: 'relu1' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, useBias: false, name: 'conv2', kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }) }),
        tf.layers.batchNormalization({ name: 'bn2' }),
        tf.layers.activation({ activation: 'relu', name: 'relu2' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
        tf.layers.flatten({ name: 'flatten' }),
        ...(dropout ? [tf.layers.dropout({ rate: dropout, seed: seed + 3, name: 'dropout' })] : []),
        tf.layers.dense({ units: numClasses, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
      ],
    });
  },
};
