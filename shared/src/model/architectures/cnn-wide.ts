import type { Architecture } from './architecture.ts';
import { buildConvNet } from './conv-net.ts';
import { CNN_DENSE_HIDDEN_UNITS } from './cnn-dense.ts';

/** The `cnn-dense` with twice the filters (conv 16 → conv 32): the capacity adversarial training needs. */
export const cnnWide: Architecture = {
  name: 'cnn-wide',
  description: `conv(16,3x3) → maxpool → conv(32,3x3) → maxpool → flatten → dense(${CNN_DENSE_HIDDEN_UNITS}, relu) [→ dropout] → dense(classes), logits`,
  build: (options) => buildConvNet(options, false, CNN_DENSE_HIDDEN_UNITS, [16, 32], 'cnn_wide'),
};
