import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../../errors.ts';
import type { Architecture } from './architecture.ts';

/** Sizes of the text CNN (Kim 2014, one filter width): small enough to fine-tune on wasm in seconds. */
export const TEXT_CNN = { embeddingDim: 32, filters: 64, kernelSize: 3 } as const;

/**
 * A small text classifier on token ids: embedding(vocabularySize, 32) → conv1d(64, width 3, relu) → global
 * max-pool → [dropout →] dense(classes), logits. Input: `inputShape` [sequenceLength] of token ids (float32
 * values that are whole numbers; the embedding casts them to int32). The embedding is the first layer, so
 * attacks on the embedding space (word substitution) can read its matrix.
 */
export const textCnn: Architecture = {
  name: 'text-cnn',
  description: 'embedding(V, 32) → conv1d(64, 3, relu) → global max-pool [→ dropout] → dense(classes), logits',
  build({ inputShape, numClasses, seed, dropout, vocabularySize }) {
    if (inputShape.length !== 1 || !(inputShape[0]! >= TEXT_CNN.kernelSize)) {
      throw new FedtuneError('config', `text-cnn takes a sequence of at least ${TEXT_CNN.kernelSize} token ids (input shape [length]), got [${inputShape.join(', ')}]`);
    }
    if (!Number.isInteger(vocabularySize) || vocabularySize! < 2) throw new FedtuneError('config', 'text-cnn needs the vocabulary size (an integer ≥ 2)');
    return tf.sequential({
      name: 'text_cnn',
      layers: [
        tf.layers.embedding({ inputDim: vocabularySize!, outputDim: TEXT_CNN.embeddingDim, inputLength: inputShape[0], inputShape, name: 'embedding', embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed }) }),
        tf.layers.conv1d({ filters: TEXT_CNN.filters, kernelSize: TEXT_CNN.kernelSize, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
        tf.layers.globalMaxPooling1d({ name: 'pool' }),
        ...(dropout ? [tf.layers.dropout({ rate: dropout, seed: seed + 3, name: 'dropout' })] : []),
        tf.layers.dense({ units: numClasses, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
      ],
    });
  },
};
