import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAdversarialTraining } from '../../coordinator/src/run/adversarial-training-check.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

/** A digits-like dense model and a text model that starts with an Embedding over token ids. */
function dense(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2 })] });
}
function text(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.embedding({ inputDim: 10, outputDim: 3, inputLength: 5 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
}

const pgd = { method: 'pgd' as const, eps: 0.1, steps: 3, share: 1 };
const dp = { clip: 1, noiseMultiplier: 1 };
const EMBEDDING_ON_DENSE =
  "adversarial training on embeddings (--adv-space embedding) needs a model whose first layer is an Embedding over token ids; this model's first layer is Dense: leave --adv-space out to perturb its input";
const INPUT_ON_TEXT = 'adversarial training in input space cannot perturb token ids: set adversarial space "embedding" (--adv-space embedding) for a model whose first layer is an Embedding';

describe('checkAdversarialTraining: adversarial training the sites cannot do is refused before the run starts', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  const cases: Array<[string, () => tf.LayersModel, Parameters<typeof checkAdversarialTraining>[0], string | undefined]> = [
    ['no adversarial training, dense', dense, {}, undefined],
    ['no adversarial training, text', text, {}, undefined],
    ['input space on a dense model', dense, { adversarial: pgd }, undefined],
    ['embeddings on a text model', text, { adversarial: { ...pgd, norm: 'l2', eps: 0.5, space: 'embedding' } }, undefined],
    ['embeddings on a dense model', dense, { adversarial: { ...pgd, norm: 'l2', eps: 0.5, space: 'embedding' } }, EMBEDDING_ON_DENSE],
    ['input space on a text model', text, { adversarial: pgd }, INPUT_ON_TEXT],
    ['input space on a text model, said explicitly', text, { adversarial: { ...pgd, space: 'input' } }, INPUT_ON_TEXT],
    ['ε 0 trains nothing adversarially: nothing to refuse', dense, { adversarial: { ...pgd, eps: 0, space: 'embedding' } }, undefined],
    ['a share of 0 likewise', text, { adversarial: { ...pgd, share: 0 } }, undefined],
    ['DP-SGD with PGD', dense, { adversarial: pgd, dpSgd: dp }, undefined],
    ['DP-SGD with TRADES', dense, { adversarial: { ...pgd, method: 'trades', beta: 6 }, dpSgd: dp }, 'DP-SGD cannot be combined with TRADES: its KL term pairs examples outside the per-example clipping'],
    ['DP-SGD with AWP', dense, { adversarial: { ...pgd, awp: 0.005 }, dpSgd: dp }, 'DP-SGD cannot be combined with adversarial weight perturbation (awp): its extra gradient pass is outside the per-example clipping'],
    ['DP-SGD with AWP 0', dense, { adversarial: { ...pgd, awp: 0 }, dpSgd: dp }, undefined],
    ['DP-SGD on embeddings', text, { adversarial: { ...pgd, norm: 'l2', eps: 0.5, space: 'embedding' }, dpSgd: dp }, 'DP-SGD cannot be combined with adversarial training on embeddings'],
    ['TRADES and AWP without DP-SGD', dense, { adversarial: { ...pgd, method: 'trades', beta: 6, awp: 0.005 } }, undefined],
    ['DP-SGD with TRADES at ε 0: no adversarial training', dense, { adversarial: { ...pgd, method: 'trades', eps: 0 }, dpSgd: dp }, undefined],
  ];
  it.each(cases)('%s', (_what, make, train, refusal) => {
    const model = make();
    try {
      if (refusal === undefined) expect(() => checkAdversarialTraining(train, model)).not.toThrow();
      else expect([thrown(() => checkAdversarialTraining(train, model)).code, thrown(() => checkAdversarialTraining(train, model)).message]).toEqual(['config', refusal]);
    } finally {
      model.dispose();
    }
  });

  it('fedtune simulate --adv-space embedding on the digits: one line before any round, exit 1 (was: every site refused, the run aborted on its quorum)', async () => {
    const out = tempDir('fedtune-adv-space-');
    const r = await fedtune(['simulate', '--transport', 'memory', '--arch', 'mlp', '--rounds', '1', '--max-examples', '50', '--robustness', 'never', '--federated-eval', 'never', '--out', out, '--adv-space', 'embedding', '--adv-norm', 'l2', '--adv-eps', '0.5']).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('fedtune:'))).toEqual([`fedtune: config: ${EMBEDDING_ON_DENSE}`]);
    expect(r.stdout).not.toMatch(/round 1/i);
  }, 120_000);

});
