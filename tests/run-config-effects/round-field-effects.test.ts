import { describe, expect, it } from 'vitest';
import type { RunConfigInput } from '@fedtune/coordinator';
import type { RunReport } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

/**
 * Effect tests of the run config's round and selection fields (run-config-field-coverage.test.ts): two small
 * in-memory federations (the real coordinator and sites, 4 sites of 60 digits) whose run configs differ only in
 * the field end with reports that differ where the field acts — the rounds run, the sites selected, the bytes sent,
 * the sites evaluated, the updates refused.
 */

const SITES = 4;

async function run(config: Partial<RunConfigInput>): Promise<RunReport> {
  const fed = await startTestFederation({ sites: SITES, rounds: 1, transport: 'memory', maxSiteExamples: 60, holdoutExamples: 100, config: { federatedEvaluation: 'never', maxRoundAttempts: 1, ...config } });
  try {
    const report = await fed.coordinator.done;
    await Promise.allSettled(fed.siteRuns);
    return report;
  } finally {
    await fed.coordinator.close();
  }
}

const last = (r: RunReport) => r.rounds.at(-1);

const ROWS: Record<string, [without: Partial<RunConfigInput>, changed: Partial<RunConfigInput>, observe: (r: RunReport) => unknown]> = {
  rounds: [{ rounds: 1 }, { rounds: 2 }, (r) => r.rounds.length],
  seed: [{ seed: 1 }, { seed: 2 }, (r) => last(r)?.global.loss],
  fraction: [{ fraction: 1 }, { fraction: 0.5 }, (r) => last(r)?.selected.length],
  // A site that evaluated round 1's global model keeps it: round 2's instruction then carries no weights to it.
  sitesKeepModel: [{ rounds: 2, federatedEvaluation: 'every-round', sitesKeepModel: false }, { rounds: 2, federatedEvaluation: 'every-round', sitesKeepModel: true }, (r) => r.rounds[1]?.bytesDown],
  federatedEvaluation: [{ federatedEvaluation: 'never' }, { federatedEvaluation: 'final' }, (r) => last(r)?.federated?.sites.length ?? 0],
  evaluationFraction: [{ federatedEvaluation: 'final', evaluationFraction: 1 }, { federatedEvaluation: 'final', evaluationFraction: 0.5 }, (r) => last(r)?.federated?.sites.length],
  maxEvaluationSites: [{ federatedEvaluation: 'final' }, { federatedEvaluation: 'final', maxEvaluationSites: 1 }, (r) => last(r)?.federated?.sites.length],
  // Updates larger than the limit are refused (payload_too_large): the round has none to average.
  maxUpdateBytes: [{}, { maxUpdateBytes: 1024 }, (r) => [r.status, r.rounds.flatMap((x) => x.rejected.map((j) => j.code))]],
  // A site's claimed example count above the cap is refused or capped.
  maxExamplesPerSite: [{}, { maxExamplesPerSite: 10 }, (r) => [r.status, r.rounds.flatMap((x) => [...x.rejected.map((j) => j.code), ...x.accepted.map((a) => a.effectiveExamples ?? a.numExamples)])]],
};

describe('round and selection fields of the run config change what a run does', () => {
  it.each(Object.entries(ROWS))('%s', async (field, [without, changed, observe]) => {
    const [a, b] = [observe(await run(without)), observe(await run(changed))];
    expect(a, field).toBeDefined();
    expect(b, field).not.toEqual(a);
  }, 120_000);
});
