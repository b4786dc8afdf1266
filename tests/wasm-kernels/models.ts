import * as tf from '@tensorflow/tfjs';
import { seeded } from './helpers.ts';

/** A small model of each kind the wasm kernels must train, with a fixed data set it can fit. */
export interface ModelCase {
  name: string;
  build: () => tf.LayersModel;
  data: () => { x: tf.Tensor; y: tf.Tensor };
}

const SAMPLES = 32;
const CLASSES = 3;

function labels(seed: number): tf.Tensor {
  return tf.oneHot(tf.tensor1d(Array.from(seeded(SAMPLES, seed), (v) => Math.floor((v + 1) * 1.5) % CLASSES), 'int32'), CLASSES);
}

function compiled(layers: tf.layers.Layer[]): tf.LayersModel {
  const model = tf.sequential({ layers });
  model.compile({ optimizer: tf.train.adam(0.03), loss: 'categoricalCrossentropy' });
  return model;
}

export const modelCases: ModelCase[] = [
  {
    name: 'cnn',
    build: () =>
      compiled([
        tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
      ]),
    data: () => ({ x: tf.tensor4d(seeded(SAMPLES * 144, 71), [SAMPLES, 12, 12, 1]), y: labels(72) }),
  },
  {
    name: 'cnn with batch norm (negative pooling windows)',
    build: () =>
      compiled([
        tf.layers.conv2d({ inputShape: [10, 10, 2], filters: 4, kernelSize: 3, padding: 'same' }),
        tf.layers.batchNormalization({}),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
      ]),
    data: () => ({ x: tf.tensor4d(seeded(SAMPLES * 200, 73), [SAMPLES, 10, 10, 2]), y: labels(74) }),
  },
  {
    name: 'depthwise-separable cnn',
    build: () =>
      compiled([
        tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu' }),
        tf.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
      ]),
    data: () => ({ x: tf.tensor4d(seeded(SAMPLES * 144, 75), [SAMPLES, 12, 12, 1]), y: labels(76) }),
  },
  {
    name: 'embedding + pooling text model',
    build: () =>
      compiled([
        tf.layers.embedding({ inputDim: 40, outputDim: 6, inputLength: 7 }),
        tf.layers.globalAveragePooling1d({}),
        tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
      ]),
    data: () => ({ x: tf.tensor2d(Array.from(seeded(SAMPLES * 7, 77), (v) => Math.floor((v + 1) * 20)), [SAMPLES, 7]), y: labels(78) }),
  },
  {
    name: 'lstm',
    build: () =>
      compiled([tf.layers.lstm({ inputShape: [5, 3], units: 6 }), tf.layers.dense({ units: CLASSES, activation: 'softmax' })]),
    data: () => ({ x: tf.tensor3d(seeded(SAMPLES * 15, 79), [SAMPLES, 5, 3]), y: labels(80) }),
  },
];
