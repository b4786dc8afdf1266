import { afterEach, expect, it } from 'vitest';
import { deriveSeed, splitDataset } from '@fedtune/shared';
import { tinyData } from '../access/helpers.ts';
import { fitOf, realModelRun, signed, siteAgainst, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

/** 300 examples: train 240, validation 30, test 30 — every split at least the default bound (20). */
const enough = () => splitDataset(tinyData(300, 3), deriveSeed(1, 'split', 'site-a'));

/**
 * A hostile coordinator signs terms with train.maxExamples 1: each round's reported training loss (sent in
 * every fitResult, under DP-SGD and secure aggregation too) is then the loss of one chosen example under
 * crafted weights — a feature or the label, round by round. Under the default policy (minExamplesPerMetric 20)
 * the site refuses at join: refuseTerms with the reason, and no fitResult ever.
 */
it('terms asking train.maxExamples 1: the site refuses at join and sends no fitResult', async () => {
  const { t, weights, modelMessage } = await realModelRun((x) => (x.train.maxExamples = 1));
  const run = await siteAgainst(signed(t), (link) => {
    link.sendUnchecked('model', modelMessage);
    link.sendUnchecked('fit', fitOf(t, 1, { weights }));
  }, { data: enough(), policy: { privacy: { minExamplesPerMetric: 20 } } });
  runs.push(run);
  await until(() => run.received.some((m) => m.event === 'refuseTerms'), 'the refusal');
  const outcome = await run.outcome;
  const refusal = run.received.find((m) => m.event === 'refuseTerms')!.payload;
  expect(refusal).toMatchObject({ code: 'policy_refused', reason: "the run asks for train.maxExamples 1, fewer than the policy's minExamplesPerMetric 20 (every round's reported training loss and accuracy would cover that few examples)" });
  expect(run.received.map((m) => m.event)).not.toContain('acceptTerms');
  expect(run.received.map((m) => m.event)).not.toContain('fitResult');
  expect(outcome.completed).toBe(false);
}, 30_000);

it('the same run with train.maxExamples 20 (the bound): joined and trained', async () => {
  const { t, weights, modelMessage } = await realModelRun((x) => (x.train.maxExamples = 20));
  const run = await siteAgainst(signed(t), (link) => {
    link.sendUnchecked('model', modelMessage);
    link.sendUnchecked('fit', fitOf(t, 1, { weights }));
  }, { data: enough(), policy: { privacy: { minExamplesPerMetric: 20 } } });
  runs.push(run);
  await until(() => run.received.some((m) => m.event === 'fitResult' || m.event === 'siteFailure'), 'the fit');
  expect(run.received.find((m) => m.event === 'fitResult')?.payload, JSON.stringify(run.received.at(-1))).toMatchObject({ numExamples: 20 });
}, 30_000);

/** The site's own splits are its choice, not the coordinator's: a test split of 3 (of 30 examples) below the bound still joins. */
it('a site whose own test split is smaller than the bound joins a run with federated evaluation (the bound judges what a coordinator sets)', async () => {
  const { t } = await realModelRun((x) => (x.federatedEvaluation = 'final'));
  const run = await siteAgainst(signed(t), () => {}, { data: splitDataset(tinyData(30, 3), deriveSeed(1, 'split', 'site-a')), policy: { privacy: { minExamplesPerMetric: 20 } } });
  runs.push(run);
  await until(() => run.received.some((m) => m.event === 'acceptTerms' || m.event === 'refuseTerms'), 'the answer to the terms');
  expect(run.received.map((m) => m.event)).toContain('acceptTerms');
  expect(run.received.map((m) => m.event)).not.toContain('refuseTerms');
}, 30_000);
