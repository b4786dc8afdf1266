import { describe, expect, it } from 'vitest';
import { startCoordinator } from '@fedtune/coordinator';
import { deriveSeed, siteName, SiteClient, socketIoConnector, splitDataset, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from '../../helpers/federation.ts';
import { syntheticTextData, syntheticTextModel } from './synthetic-text-task.ts';
import { testSitePolicy } from '../../helpers/test-site-policy.ts';

const SITES = 20;

/** A 20-site socket.io federation of the synthetic text model; returns the report and the final weights. */
async function textFederation(runId: string, adversarial?: NonNullable<TrainConfig['adversarial']>) {
  const backend = await selectNodeBackend();
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: syntheticTextModel(1),
    architecture: 'user',
    holdout: syntheticTextData(100, 9),
    backend: backend.backend,
    transport: 'socket',
    host: '127.0.0.1',
    config: {
      runId,
      rounds: 2,
      minSites: SITES,
      seed: 5,
      roundTimeoutMs: 120_000,
      joinTimeoutMs: 120_000,
      robustness: { when: 'never' },
      federatedEvaluation: 'never',
      train: { epochs: 3, batchSize: 16, learningRate: 0.02, optimizer: 'adam', trainable: 'all', ...(adversarial ? { adversarial } : {}) },
    },
  });
  const sites = Array.from({ length: SITES }, (_, k) => {
    const siteId = siteName(k);
    return new SiteClient({ policy: testSitePolicy(), siteId, connector: socketIoConnector({ url: coordinator.url! }), data: splitDataset(syntheticTextData(40, 100 + k), deriveSeed(5, 'split', siteId)), backend: backend.backend, runtime: 'node' });
  });
  const runs = sites.map((s) => s.run());
  const report = await coordinator.done;
  await Promise.all(runs);
  await coordinator.close();
  return report;
}

describe('adversarial training on embeddings in a federation', () => {
  it('20 sites over socket.io train a text model with space "embedding" (the setting reaches the sites and changes the result)', async () => {
    const adversarial = { method: 'pgd' as const, share: 0.5, eps: 0.5, steps: 2, space: 'embedding' as const };
    const robust = await textFederation('text-embedding-adv', adversarial);
    expect(robust.status, JSON.stringify(robust.aborted)).toBe('complete');
    for (const round of robust.rounds) {
      expect(round.accepted).toHaveLength(SITES);
      expect(round.failed).toEqual([]);
    }
    expect(robust.final!.accuracy).toBeGreaterThan(robust.pretrained!.accuracy + 0.1);
    const plain = await textFederation('text-plain');
    expect(plain.status).toBe('complete');
    // Same seeds, same data: only the adversarial setting differs, and the global model's holdout loss with it.
    expect(robust.final!.loss).not.toBe(plain.final!.loss);
  }, 300_000);
});
