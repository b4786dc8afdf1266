import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { MemoryNetwork, SiteClient, type LazySiteData, type SiteEvent, type Splits } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/** Lazy data whose load gives images of the wrong size (the model takes 784 features): counted loads and releases. */
function misfitData(counts: { loads: number; releases: number }): LazySiteData {
  const ds = { x: new Float32Array(20 * 10), y: new Int32Array(20), featureShape: [10], numClasses: 10 };
  return {
    lazy: true,
    trainExamples: 16,
    load: (): Splits => {
      counts.loads++;
      return { train: ds, validation: ds, test: ds };
    },
    release: () => void counts.releases++,
  };
}

describe('lazy site data that does not fit the model', () => {
  it('is refused at the instruction with the reason (code data), released, and made again for the next instruction', async () => {
    const backend = await selectNodeBackend();
    const memory = new MemoryNetwork();
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 50),
      backend: backend.backend,
      transport: memory,
      config: { runId: 'lazy-misfit', rounds: 1, minSites: 2, seed: 1, maxRoundAttempts: 2, sitesKeepModel: false, robustness: { when: 'never' }, federatedEvaluation: 'never', roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, rejoinGraceMs: 100 },
    });
    const counts = { loads: 0, releases: 0 };
    const failures: Array<Extract<SiteEvent, { type: 'failed' }>> = [];
    try {
      const runs = ['lazy-a', 'lazy-b'].map((siteId) =>
        new SiteClient({ policy: testSitePolicy(), siteId, connector: memory.connector(), data: misfitData(counts), backend: backend.backend, runtime: 'node', onEvent: (e) => void (e.type === 'failed' && failures.push(e)) }).run(),
      );
      const report = await coordinator.done;
      await Promise.all(runs);
      expect(report.status).toBe('aborted');
      // Two attempts × two sites: each instruction loaded the data once, failed on it, and released it.
      expect(counts.loads).toBe(4);
      expect(counts.releases).toBe(4);
      expect(failures).toHaveLength(4);
      for (const f of failures) {
        expect(f.code).toBe('data');
        expect(f.reason).toMatch(/lazy-[ab]'s data/);
      }
    } finally {
      await coordinator.close();
    }
  }, 120_000);
});
