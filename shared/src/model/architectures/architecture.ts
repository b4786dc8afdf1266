import type * as tf from '@tensorflow/tfjs';

export interface ArchitectureOptions {
  inputShape: number[];
  numClasses: number;
  /** Seed for the initializers, so the same seed gives the same initial model. */
  seed: number;
  /** Rate of a dropout layer before the output layer (architectures that support it); none when absent or 0. */
  dropout?: number;
  /** Token ids the model's embedding takes (text architectures; input values are ids in 0..vocabularySize − 1). */
  vocabularySize?: number;
}

/** A named model architecture. Models output logits (no softmax): losses and attacks work on logits. */
export interface Architecture {
  readonly name: string;
  readonly description: string;
  build(options: ArchitectureOptions): tf.LayersModel;
}
