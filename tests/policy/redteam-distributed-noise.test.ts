import { afterEach, expect, it } from 'vitest';
import { deriveSeed, splitDataset } from '@fedtune/shared';
import { tinyData } from '../access/helpers.ts';
import { secAggInstruction } from './terms-fixture.ts';
import { fitOf, realModelRun, signed, siteAgainst, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

const policy = { privacy: { require: 'client' as const, minNoiseMultiplier: 1, requireDistributedNoise: true, maxEpsilonPerRun: 1000, minExamplesPerMetric: 20 }, aggregation: { requireSecureAggregation: true, minSites: 3 } };
const answers = ['secaggAdvertise', 'siteFailure', 'refuseTerms', 'fitResult'];

/**
 * Terms with distributed DP (z = 1) under secure aggregation, which the site's policy requires. The fit then
 * asks the site to add no noise: `distributedNoise` left out, or z 0 with variance 0 (self-consistent, so the
 * secure-aggregation check alone passes). The site's ledger would book ε for z = 1 while it masked a noiseless
 * update; it refuses the fit with the guard's one line instead, and never advertises its masking keys.
 */
for (const [variant, noise, reason] of [
  ['left out', {}, 'the terms say distributed DP noise (z = 1) and the fit asks the site to add none'],
  ['z 0, variance 0', { distributedNoise: { mechanism: 'discrete-gaussian' as const, noiseMultiplier: 0, variance: 0 } }, "the fit's distributed noise multiplier 0 is not the terms' 1"],
] as const) {
  it(`a fit with distributed noise ${variant} under distributed-DP terms: refused, no masked input`, async () => {
    const { t, weights, modelMessage } = await realModelRun((x) => {
      x.train.maxExamples = 20;
      x.minSites = 3;
      x.secureAggregation = { clip: 1, threshold: 2, neighbours: 4 };
      x.dp = { noiseMultiplier: 1, clip: 1, delta: 1e-5, noise: 'distributed' };
    });
    const secure = secAggInstruction({ sites: ['site-a', 'sybil-1', 'sybil-2'], threshold: 2, neighbours: 4, vectorLength: 15, weighting: 'uniform', weightDenominator: 3, ...noise });
    const run = await siteAgainst(signed(t), (link) => {
      link.sendUnchecked('model', modelMessage);
      link.sendUnchecked('fit', fitOf(t, 1, { weights, secureAggregation: secure }));
    }, { data: splitDataset(tinyData(300, 3), deriveSeed(1, 'split', 'site-a')), policy });
    runs.push(run);
    await until(() => run.received.some((m) => answers.includes(m.event)), 'the answer to the fit', 60_000);
    const events = run.received.map((m) => m.event);
    expect(events).toContain('acceptTerms');
    const failure = run.received.find((m) => m.event === 'siteFailure')?.payload;
    expect(failure, JSON.stringify(run.received.at(-1))).toMatchObject({ code: 'policy_refused', reason: `refused "fit": ${reason}` });
    for (const masked of ['secaggAdvertise', 'secaggShares', 'secaggMaskedInput', 'fitResult']) expect(events).not.toContain(masked);
    expect((await run.outcome).completed).toBe(false);
  }, 120_000);
}
