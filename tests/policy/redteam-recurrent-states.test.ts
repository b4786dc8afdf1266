import * as tf from '@tensorflow/tfjs';
import { afterEach, expect, it } from 'vitest';
import { fitOf, realModelRun, signed, siteAgainst, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

// RepeatVector(8000) into an LSTM of 32 units: 4,835 weights, and the layers' outputs held 32,035 values per
// example, within the default model.maxActivationsPerExample (262,144) — but the LSTM keeps its two states at each
// of the 8000 steps for training (512,000 values, ~16 MB an example measured, 500× the count): trained before, for
// seconds here and gigabytes at 65,000 steps. Counted now, the model is refused when it arrives.
it('a long recurrent sequence: its per-step states count against model.maxActivationsPerExample', async () => {
  const { t, weights, modelMessage } = await realModelRun(() => {}, () => [tf.layers.repeatVector({ inputShape: [4], n: 8000 }), tf.layers.lstm({ units: 32 }), tf.layers.dense({ units: 3 })]);
  const run = await siteAgainst(signed(t), (link) => {
    link.sendUnchecked('model', modelMessage);
    link.sendUnchecked('fit', fitOf(t, 1, { weights }));
  });
  runs.push(run);
  await until(() => run.received.some((m) => m.event === 'siteFailure' || m.event === 'fitResult'), 'the answer', 60_000);
  const failure = run.received.find((m) => m.event === 'siteFailure')?.payload;
  expect(failure).toMatchObject({ code: 'policy_refused', round: 0 });
  expect(String(failure?.reason)).toBe('refused "model": the model\'s layers output 544035 values per example, more than the policy\'s model.maxActivationsPerExample 262144');
  expect(run.received.filter((m) => m.event === 'fitResult')).toHaveLength(0);
}, 90_000);
