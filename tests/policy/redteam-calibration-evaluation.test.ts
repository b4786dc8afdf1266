import { afterEach, expect, it } from 'vitest';
import { realModelRun, signed, siteAgainst, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

/**
 * Terms that say "no federated evaluation" (or "the final round's only") and "federated calibration": a
 * calibration question (an 'evaluate' with betas) is within the terms in any round, and its answer used to carry
 * the site's test-split loss and accuracy too — a federated evaluation in every round the terms exclude.
 * The honest coordinator never reads them (it asks for calibration sums only).
 */
it.each([
  ['never', 1, false],
  ['final', 2, false],
  ['final', 5, true],
  ['every-round', 2, true],
] as const)('federatedEvaluation %s, a calibration question in round %i: test metrics sent only when the terms include that evaluation (%s)', async (federatedEvaluation, round, evaluated) => {
  const { t, weights, modelMessage } = await realModelRun((x) => {
    x.federatedEvaluation = federatedEvaluation;
    x.federatedCalibration = true;
  });
  const run = await siteAgainst(signed(t), (link) => {
    link.sendUnchecked('model', modelMessage);
    link.sendUnchecked('evaluate', { runId: t.runId, round, modelVersion: 0, weights, calibration: { betas: [1, 0.5] } });
  });
  runs.push(run);
  await until(() => run.received.some((m) => m.event === 'evaluateResult' || m.event === 'siteFailure'), 'the answer');
  const answer = run.received.find((m) => m.event === 'evaluateResult')?.payload;
  expect(answer, JSON.stringify(run.received.find((m) => m.event === 'siteFailure'))).toBeDefined();
  // The calibration sums over the validation split: what the terms agreed to.
  expect((answer!.calibration as { count: number }).count).toBeGreaterThan(0);
  if (evaluated) {
    expect(answer!.numExamples).toBeGreaterThan(0);
  } else {
    expect(answer).toMatchObject({ numExamples: 0, metrics: { loss: 0, accuracy: 0 } });
    expect(run.events.some((e) => e.type === 'evaluate-done')).toBe(false);
  }
}, 30_000);
