import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './architecture.ts';

/**
 * Small convolutional network for 28×28 images: conv 8 → pool → conv 16 → pool → dense logits.
 * Training it on the wasm backend needs the kernels of `registerWasmTrainingKernels` (issue 3).
 */
export const cnn: Architecture = {
  name: 'cnn',
  description: 'conv(8,3x3) → maxpool → conv(16,3x3) → maxpool → flatten [→ dropout] → dense(classes), logits',
  build({ inputShape, numClasses, seed, dropout }) {
    const shape = inputShape.length === 1 ? [28, 28, 1] : inputShape;
    return tf.sequential({
      name: 'cnn',
      layers: [
        ...(inputShape.length === 1 ? [tf.layers.reshape({ inputShape, targetShape: shape, name: 'to_image' })] : []),
        tf.layers.conv2d({
          ...(inputShape.length === 1 ? {} : { inputShape: shape }),
          filters: 8,
          kernelSize: 3,
          activation: 'relu',
          name: 'conv1',
          kernelInitializer: tf.initializers.heNormal({ seed }),
        }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', name: 'conv2', kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }) }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
        tf.layers.flatten({ name: 'flatten' }),
        ...(dropout ? [tf.layers.dropout({ rate: dropout, seed: seed + 3, name: 'dropout' })] : []),
        tf.layers.dense({ units: numClasses, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
      ],
    });
  },
};
