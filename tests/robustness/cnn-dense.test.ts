import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CNN_DENSE_HIDDEN_UNITS, getArchitecture, modelVariables } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { pretrainedCheckpointAccuracy } from '../helpers/pretrained-checkpoint.ts';

beforeAll(async () => {
  await selectNodeBackend();
});

describe('cnn-dense: the cnn with a hidden dense layer (the robust preset\'s architecture on clean digits)', () => {
  it('has the cnn\'s convolutions and a 128-unit ReLU layer before the logits', () => {
    const model = getArchitecture('cnn-dense').build({ inputShape: [784], numClasses: 10, seed: 1 });
    try {
      expect(model.layers.map((l) => l.name)).toEqual(['to_image', 'conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'hidden', 'logits']);
      expect(CNN_DENSE_HIDDEN_UNITS).toBe(128);
      const hidden = model.getLayer('hidden').getConfig();
      expect([hidden.units, hidden.activation]).toEqual([128, 'relu']);
      // conv1 8·(9+1) + conv2 16·(72+1) + hidden 128·(400+1) + logits 10·(128+1)
      expect(model.countParams()).toBe(80 + 1168 + 51328 + 1290);
      expect(model.outputs[0].shape).toEqual([null, 10]);
      // Logits: no softmax on the output layer.
      expect(model.getLayer('logits').getConfig().activation).toBe('linear');
      // The cnn and cnn-bn are unchanged by the option (no hidden layer).
      for (const name of ['cnn', 'cnn-bn']) {
        const other = getArchitecture(name).build({ inputShape: [784], numClasses: 10, seed: 1 });
        expect(other.layers.some((l) => l.name === 'hidden')).toBe(false);
        other.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('with dropout: a dropout layer after the hidden layer; the same seed gives the same weights', () => {
    const a = getArchitecture('cnn-dense').build({ inputShape: [784], numClasses: 10, seed: 5, dropout: 0.25 });
    const b = getArchitecture('cnn-dense').build({ inputShape: [784], numClasses: 10, seed: 5 });
    const c = getArchitecture('cnn-dense').build({ inputShape: [784], numClasses: 10, seed: 6 });
    try {
      expect(a.layers.map((l) => l.name).slice(-3)).toEqual(['hidden', 'dropout', 'logits']);
      const w = (m: tf.LayersModel) => modelVariables(m).map((v) => Array.from(v.read().dataSync()));
      expect(w(a)).toEqual(w(b));
      expect(w(b)).not.toEqual(w(c));
    } finally {
      for (const m of [a, b, c]) m.dispose();
    }
  });

  it('the committed pretrained checkpoint loads with the architecture\'s topology and beats chance on the scanned holdout', async () => {
    // `fedtune pretrain --arch cnn-dense` printed 58.7% on the whole holdout; chance is 10%.
    expect(await pretrainedCheckpointAccuracy('cnn-dense')).toBeGreaterThan(0.4);
  });
});
