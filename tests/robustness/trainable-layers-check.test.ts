import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTrainableLayers } from '../../coordinator/src/run/trainable-layers-check.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

describe('checkTrainableLayers: more trainable layers than the model has is refused before the run starts', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  // Two layers with weights (the flatten has none).
  const model = () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] }), tf.layers.dense({ units: 3 }), tf.layers.dense({ units: 2 })] });

  it.each<[string, 'all' | 'head' | number, string | undefined]>([
    ['all', 'all', undefined],
    ['head', 'head', undefined],
    ['1', 1, undefined],
    ['exactly the layers with weights', 2, undefined],
    ['one more', 3, '--trainable 3 (train.trainable): the model has 2 layers with weights: give at most 2, or all'],
    ['99', 99, '--trainable 99 (train.trainable): the model has 2 layers with weights: give at most 2, or all'],
  ])('%s', (_what, trainable, refusal) => {
    const m = model();
    try {
      if (refusal === undefined) expect(() => checkTrainableLayers({ trainable }, m)).not.toThrow();
      else expect(thrownCodeAndMessage(() => checkTrainableLayers({ trainable }, m))).toEqual({ code: 'config', message: refusal });
    } finally {
      m.dispose();
    }
  });

  it('fedtune simulate --trainable 99 on the MLP (2 layers with weights): one line before any round, exit 1 (it ran as --trainable all)', async () => {
    const r = await fedtune(['simulate', '--transport', 'memory', '--arch', 'mlp', '--rounds', '1', '--sites', '2', '--max-examples', '50', '--robustness', 'never', '--federated-eval', 'never', '--out', tempDir('fedtune-trainable-'), '--trainable', '99']).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('fedtune:'))).toEqual(['fedtune: config: --trainable 99 (train.trainable): the model has 2 layers with weights: give at most 2, or all']);
    expect(r.stdout).not.toMatch(/round 1/i);
  }, 120_000);
});
