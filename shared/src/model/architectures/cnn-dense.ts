import type { Architecture } from './architecture.ts';
import { buildConvNet } from './conv-net.ts';

/** Units of the hidden dense layer of `cnn-dense`. */
export const CNN_DENSE_HIDDEN_UNITS = 128;

/**
 * The `cnn` with a hidden dense layer: conv 8 → pool → conv 16 → pool → dense 128 ReLU → dense logits.
 * 54 k parameters (the `cnn` has 5 k, its head is linear on the conv features) for ~20 % more compute per
 * example: the capacity adversarial training needs (Madry et al. 2018) at almost the `cnn`'s cost, which is
 * why the robust preset fine-tunes it on clean digits (on the scanners it takes the wider `cnn-wide`; docs/robustness.md#the-robust-preset).
 */
export const cnnDense: Architecture = {
  name: 'cnn-dense',
  description: `conv(8,3x3) → maxpool → conv(16,3x3) → maxpool → flatten → dense(${CNN_DENSE_HIDDEN_UNITS}, relu) [→ dropout] → dense(classes), logits`,
  build: (options) => buildConvNet(options, false, CNN_DENSE_HIDDEN_UNITS),
};
