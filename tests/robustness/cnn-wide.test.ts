import { beforeAll, describe, expect, it } from 'vitest';
import { getArchitecture } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { pretrainedCheckpointAccuracy } from '../helpers/pretrained-checkpoint.ts';

beforeAll(async () => {
  await selectNodeBackend();
});

describe('cnn-wide: the cnn-dense with twice the filters', () => {
  it('conv 16 → conv 32 → a 128-unit ReLU layer → logits; the cnn-dense keeps its own', () => {
    const wide = getArchitecture('cnn-wide').build({ inputShape: [784], numClasses: 10, seed: 1 });
    const dense = getArchitecture('cnn-dense').build({ inputShape: [784], numClasses: 10, seed: 1 });
    try {
      expect(wide.name).toMatch(/^cnn_wide/);
      expect(wide.layers.map((l) => l.name)).toEqual(['to_image', 'conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'hidden', 'logits']);
      expect([wide.getLayer('conv1').getConfig().filters, wide.getLayer('conv2').getConfig().filters]).toEqual([16, 32]);
      expect([dense.getLayer('conv1').getConfig().filters, dense.getLayer('conv2').getConfig().filters]).toEqual([8, 16]);
      // conv1 16·(9+1) + conv2 32·(144+1) + hidden 128·(800+1) + logits 10·(128+1)
      expect(wide.countParams()).toBe(160 + 4640 + 102528 + 1290);
      expect(wide.getLayer('logits').getConfig().activation).toBe('linear');
    } finally {
      wide.dispose();
      dense.dispose();
    }
  });

  it('the committed pretrained checkpoint loads with the architecture\'s topology and beats chance on the scanned holdout', async () => {
    // `fedtune pretrain --arch cnn-wide` printed 62.7% on the whole holdout; chance is 10%.
    expect(await pretrainedCheckpointAccuracy('cnn-wide')).toBeGreaterThan(0.4);
  });
});
