import * as tf from '@tensorflow/tfjs';
import { SeededRandom, type Dataset } from '@fedtune/shared';

/**
 * A small synthetic text task for the text-robustness tests: token ids (PAD 0, UNK 1), sequences of
 * `seqLen` with 6–seqLen non-pad tokens. Fillers (ids FILLERS) carry no label; each example holds one or two
 * keywords of its class (class c: KEYWORDS[c]) at random positions; ids 48–63 never occur.
 */
export const VOCAB = 64;
export const SEQ_LEN = 16;
export const FILLERS = Array.from({ length: 40 }, (_, i) => 2 + i);
export const KEYWORDS = [
  [42, 43, 44],
  [45, 46, 47],
];

export function syntheticTextData(n: number, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n * SEQ_LEN);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    y[i] = c;
    const len = 6 + rng.int(SEQ_LEN - 5);
    for (let p = 0; p < len; p++) x[i * SEQ_LEN + p] = FILLERS[rng.int(FILLERS.length)];
    const keywords = 1 + rng.int(2);
    for (let q = 0; q < keywords; q++) {
      x[i * SEQ_LEN + rng.int(len)] = KEYWORDS[c][rng.int(KEYWORDS[c].length)];
    }
  }
  return { x, y, featureShape: [SEQ_LEN], numClasses: 2 };
}

/** Embedding(VOCAB, dim) → Conv1D(filters, 3, relu) → global max-pool → Dense(2) logits, seeded. */
export function syntheticTextModel(seed: number, dim = 8, filters = 16): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.embedding({ inputDim: VOCAB, outputDim: dim, inputLength: SEQ_LEN, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed }) }));
  model.add(tf.layers.conv1d({ filters, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  model.add(tf.layers.globalMaxPooling1d());
  model.add(tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
  return model;
}
