import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir, maxMessageBytesFor, pretrainedModelDir, readSavedHoldout, startCoordinator } from '@fedtune/coordinator';
import { deriveSeed, MemoryNetwork, SiteClient, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/**
 * `fedtune coordinator` on the built-in task starts listening first and loads its model and holdout after
 * (startCoordinator's `load`). The models it saves name the built-in holdout they were evaluated on, as
 * `fedtune simulate`'s do (README "What a run leaves on disk"); before, the run loaded that way dropped it.
 */
describe('the models a listening-first coordinator saves', () => {
  it('carry holdout: digits-holdout-scanned in model.json, as simulate writes', async () => {
    const backend = await selectNodeBackend();
    const memory = new MemoryNetwork();
    const probe = await loadModelDir(pretrainedModelDir('mlp'));
    const maxMessageBytes = maxMessageBytesFor(probe);
    probe.dispose();
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      load: async () => ({ model: await loadModelDir(pretrainedModelDir('mlp')), holdout: head(builtinDigits().holdout, 60) }),
      maxMessageBytes,
      holdoutName: 'digits-holdout-scanned',
      architecture: 'mlp',
      backend: backend.backend,
      transport: memory,
      config: { runId: 'saved-holdout', rounds: 1, minSites: 2, seed: 3, robustness: { when: 'never' }, federatedEvaluation: 'never' },
    });
    const sites = builtinDigitsSites({ sites: 2, partition: { kind: 'dirichlet', alpha: 1 }, seed: 3 }).map(
      (full, k) =>
        new SiteClient({
          siteId: `site-${k + 1}`,
          connector: memory.connector(),
          data: splitDataset(head(full, 30), deriveSeed(3, 'split', `site-${k + 1}`)),
          backend: backend.backend,
          runtime: 'node',
          policy: testSitePolicy(undefined),
        }),
    );
    const runs = sites.map((s) => s.run());
    const report = await coordinator.done;
    await Promise.all(runs);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    const dir = join(coordinator.runDir, report.rounds[0].modelDir!);
    expect(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata).toMatchObject({ runId: 'saved-holdout', architecture: 'mlp', holdout: 'digits-holdout-scanned' });
    expect(readSavedHoldout(dir)).toBe('digits-holdout-scanned');
  }, 120_000);
});
