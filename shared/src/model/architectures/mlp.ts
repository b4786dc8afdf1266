import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './architecture.ts';

/** Two-layer perceptron: flatten → dense 128 ReLU → dense logits. Trains fast on the wasm backend. */
export const mlp: Architecture = {
  name: 'mlp',
  description: '[flatten →] dense(128, relu) [→ dropout] → dense(classes), logits',
  build({ inputShape, numClasses, seed, dropout }) {
    return tf.sequential({
      name: 'mlp',
      layers: [
        ...(inputShape.length > 1 ? [tf.layers.flatten({ inputShape, name: 'flatten' })] : []),
        tf.layers.dense({
          ...(inputShape.length > 1 ? {} : { inputShape }),
          units: 128,
          activation: 'relu',
          name: 'hidden',
          kernelInitializer: tf.initializers.glorotUniform({ seed }),
        }),
        ...(dropout ? [tf.layers.dropout({ rate: dropout, seed: seed + 2, name: 'dropout' })] : []),
        tf.layers.dense({ units: numClasses, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
      ],
    });
  },
};
