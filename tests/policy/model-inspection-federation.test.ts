import { describe, expect, it } from 'vitest';
import { startCoordinator, type EngineEvent } from '@fedtune/coordinator';
import { deriveSeed, siteName, SiteClient, SitePolicy, socketIoConnector, splitDataset, type ModelInspectionPolicy, type SiteEvent } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { trapWeightsMlp } from './trap-models.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

const SITES = 4;

/** A coordinator serving a trap-weights model over real socket.io, and sites with the given inspection policy. */
async function runWithTrapModel(modelInspection: ModelInspectionPolicy | undefined, policy?: SitePolicy) {
  const backend = await selectNodeBackend();
  const aux = builtinDigits().holdout;
  const engineEvents: EngineEvent[] = [];
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: trapWeightsMlp(aux, { units: 512, batch: 16 }),
    architecture: 'trap',
    holdout: head(aux, 100),
    backend: backend.backend,
    transport: 'socket',
    onEvent: (e) => engineEvents.push(e),
    config: { runId: 'trap-run', rounds: 1, minSites: SITES, seed: 3, train: { epochs: 1, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all' }, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' } },
  });
  const siteEvents = new Map<string, SiteEvent[]>();
  const datasets = builtinDigitsSites({ sites: SITES, partition: { kind: 'dirichlet', alpha: 1 }, seed: 3 });
  const runs = datasets.map((full, k) => {
    const siteId = siteName(k);
    siteEvents.set(siteId, []);
    return new SiteClient({
      siteId,
      connector: socketIoConnector({ url: coordinator.url! }),
      data: splitDataset(head(full, 60), deriveSeed(3, 'split', siteId)),
      backend: backend.backend,
      runtime: 'node',
      onEvent: (e) => siteEvents.get(siteId)!.push(e),
      ...(modelInspection ? { modelInspection } : {}),
      policy: policy ?? testSitePolicy(),
    }).run();
  });
  const report = await coordinator.done;
  await Promise.all(runs);
  await coordinator.close();
  return { report, engineEvents, siteEvents };
}

describe('model inspection over socket.io (a coordinator serving a trap-weights model)', () => {
  it('by default every site refuses with model_refused and sends no update; the coordinator names the reason', async () => {
    const { engineEvents, siteEvents } = await runWithTrapModel(undefined);
    for (const [siteId, events] of siteEvents) {
      const failed = events.filter((e) => e.type === 'failed');
      expect(failed.length, siteId).toBeGreaterThan(0);
      for (const f of failed) expect(f).toMatchObject({ code: 'model_refused', reason: expect.stringMatching(/^model refused by this site's inspection: sparse_activations in layer /) });
      expect(events.some((e) => e.type === 'fit-done'), siteId).toBe(false);
    }
    expect(engineEvents.some((e) => e.type === 'result' && e.accepted)).toBe(false);
    const retries = engineEvents.filter((e) => e.type === 'round-retry');
    expect(retries.length).toBeGreaterThan(0);
    for (const r of retries) expect(r.type === 'round-retry' && r.reason).toMatch(/model_refused: model refused by this site's inspection: sparse_activations/);
    const complete = engineEvents.find((e) => e.type === 'complete');
    expect(complete?.type === 'complete' && complete.report.rounds.length).toBe(0);
  });

  it("with action 'off' the sites train on it; with 'warn' they train and say why; allowing the finding lets them train", async () => {
    for (const policy of [{ action: 'off', allow: [] }, { action: 'warn', allow: [] }, { action: 'refuse', allow: ['sparse_activations', 'wide_first_layer'] }] as ModelInspectionPolicy[]) {
      const { engineEvents, siteEvents } = await runWithTrapModel(policy);
      expect(engineEvents.filter((e) => e.type === 'result' && e.accepted).length, policy.action).toBe(SITES);
      for (const [siteId, events] of siteEvents) {
        expect(events.some((e) => e.type === 'fit-done'), `${policy.action} ${siteId}`).toBe(true);
        const warnings = events.filter((e) => e.type === 'model-warning');
        if (policy.action === 'warn') expect(warnings.flatMap((w) => (w.type === 'model-warning' ? w.findings.map((f) => f.code) : [])), siteId).toContain('sparse_activations');
        else expect(warnings, siteId).toEqual([]);
      }
    }
  });

  it("the site policy's model.inspection (the --policy file) is what the site applies: 'off' there lets every site train on it", async () => {
    const { engineEvents, siteEvents } = await runWithTrapModel(undefined, testSitePolicy({ model: { inspection: { action: 'off' } } }));
    expect(engineEvents.filter((e) => e.type === 'result' && e.accepted).length).toBe(SITES);
    for (const [siteId, events] of siteEvents) expect(events.some((e) => e.type === 'fit-done'), siteId).toBe(true);
  });
});
