import * as tf from '@tensorflow/tfjs';
import type { ArchitectureOptions } from './architecture.ts';

/**
 * The small convolutional network of `cnn` and `cnn-bn`, for 28×28 images: conv 8 → [BN →] ReLU → pool →
 * conv 16 → [BN →] ReLU → pool → flatten [→ dropout] → dense logits. With `batchNorm` the convolutions have
 * no bias (BatchNorm's β takes its place). With `hiddenUnits` > 0 a dense ReLU layer of that many units comes
 * after the flatten (`cnn-dense`); `filters` are the two convolutions' widths (8 and 16; the `cnn-wide` has 16
 * and 32), `name` the model's (default by the options). Layer names are part of the committed checkpoints: keep them.
 */
export function buildConvNet({ inputShape, numClasses, seed, dropout }: ArchitectureOptions, batchNorm: boolean, hiddenUnits = 0, filters: [number, number] = [8, 16], name?: string): tf.Sequential {
  const shape = inputShape.length === 1 ? [28, 28, 1] : inputShape;
  const block = (index: 1 | 2, filters: number): tf.layers.Layer[] => {
    const conv = tf.layers.conv2d({
      ...(index === 1 && inputShape.length !== 1 ? { inputShape: shape } : {}),
      filters,
      kernelSize: 3,
      ...(batchNorm ? { useBias: false } : { activation: 'relu' as const }),
      name: `conv${index}`,
      kernelInitializer: tf.initializers.heNormal({ seed: seed + index - 1 }),
    });
    const normalized = batchNorm ? [tf.layers.batchNormalization({ name: `bn${index}` }), tf.layers.activation({ activation: 'relu', name: `relu${index}` })] : [];
    return [conv, ...normalized, tf.layers.maxPooling2d({ poolSize: 2, name: `pool${index}` })];
  };
  return tf.sequential({
    name: name ?? (hiddenUnits ? 'cnn_dense' : batchNorm ? 'cnn_bn' : 'cnn'),
    layers: [
      ...(inputShape.length === 1 ? [tf.layers.reshape({ inputShape, targetShape: shape, name: 'to_image' })] : []),
      ...block(1, filters[0]),
      ...block(2, filters[1]),
      tf.layers.flatten({ name: 'flatten' }),
      ...(hiddenUnits ? [tf.layers.dense({ units: hiddenUnits, activation: 'relu', name: 'hidden', kernelInitializer: tf.initializers.heNormal({ seed: seed + 4 }) })] : []),
      ...(dropout ? [tf.layers.dropout({ rate: dropout, seed: seed + 3, name: 'dropout' })] : []),
      tf.layers.dense({ units: numClasses, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
}
