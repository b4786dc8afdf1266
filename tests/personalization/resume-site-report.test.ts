import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore, loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import { deriveSeed, MemoryNetwork, siteName, SiteClient, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

async function federation(runsDir: string, rounds: number, resume: boolean, over: Partial<RunConfigInput>) {
  const backend = await selectNodeBackend();
  const memory = new MemoryNetwork();
  const coordinator = await startCoordinator({
    runsDir,
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 100),
    backend: backend.backend,
    transport: memory,
    resume,
    config: { runId: 'sr', rounds, minSites: 2, seed: 4, robustness: { when: 'never' }, federatedEvaluation: 'never', rejoinGraceMs: 100, train: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' }, ...over },
  });
  const sites = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 4 }).map(
    (full, k) => new SiteClient({ policy: testSitePolicy(), siteId: siteName(k), connector: memory.connector(), data: splitDataset(head(full, 80), deriveSeed(4, 'split', siteName(k))), backend: backend.backend, runtime: 'node' }),
  );
  const runs = sites.map((s) => s.run());
  const report = await coordinator.done;
  await Promise.all(runs);
  await coordinator.close();
  return report;
}

describe('resuming from a checkpoint whose report holds a per-site report', () => {
  it.each([
    ['without personalisation now: the stale per-site report (of the old final model) is dropped', { personalization: { mode: 'none' } }, undefined],
    ["with mode 'auto': the per-site report is of the new final round", { personalization: { mode: 'auto', epochs: 1, localOnly: false } }, 2],
  ] as Array<[string, Partial<RunConfigInput>, number | undefined]>)('%s', async (_name, over, wantRound) => {
    const runsDir = tempDir();
    const first = await federation(runsDir, 1, false, { personalization: { mode: 'auto', epochs: 1, localOnly: false } });
    expect(first.status, first.aborted).toBe('complete');
    expect(first.siteReport?.round).toBe(1);
    expect(first.siteReport?.sites.every((s) => s.chosen !== undefined)).toBe(true);
    // A checkpoint holding the per-site report (what a coordinator that checkpoints after it would leave).
    const store = new CheckpointStore(join(runsDir, 'sr'));
    const ckpt = store.read(1);
    await store.write({ ...ckpt, report: { ...ckpt.report, siteReport: first.siteReport } });
    expect(store.read(1).report.siteReport?.round).toBe(1);
    const resumed = await federation(runsDir, 2, true, over);
    expect(resumed.status, resumed.aborted).toBe('complete');
    expect(resumed.rounds).toHaveLength(2);
    expect(resumed.siteReport?.round).toBe(wantRound);
  }, 300_000);
});
