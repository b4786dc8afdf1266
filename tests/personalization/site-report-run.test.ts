import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import { AUTO_CANDIDATES, countBinaryFields, deriveSeed, passesRobustnessGuard, selectPersonalCandidate, MemoryNetwork, siteName, SiteClient, socketIoConnector, splitDataset, type ClientConnector, type CoordinatorLink, type RunReport } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/** What every site sent, by site: event names and payloads (to check that no weights leave after the last fit). */
type Sent = Array<{ event: string; payload: unknown }>;

function recording(connector: ClientConnector, sent: Sent): ClientConnector {
  return {
    async connect(): Promise<CoordinatorLink> {
      const link = await connector.connect();
      const send = link.send.bind(link);
      link.send = ((event: string, payload: unknown) => {
        sent.push({ event, payload });
        (send as (e: string, p: unknown) => void)(event, payload);
      }) as CoordinatorLink['send'];
      return link;
    },
  };
}

async function federation(options: { transport: 'socket' | 'memory'; sites: number; config: Partial<RunConfigInput>; dropBeforeReport?: string[] }) {
  const backend = await selectNodeBackend();
  const seed = 5;
  const memory = options.transport === 'memory' ? new MemoryNetwork() : undefined;
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 100),
    backend: backend.backend,
    transport: memory ?? 'socket',
    host: '127.0.0.1',
    config: {
      runId: `site-report-${options.transport}`,
      rounds: 1,
      minSites: options.sites,
      seed,
      roundTimeoutMs: 120_000,
      joinTimeoutMs: 120_000,
      robustness: { when: 'never' },
      federatedEvaluation: 'never',
      train: { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all' },
      ...options.config,
    },
  });
  const sent: Record<string, Sent> = {};
  const datasets = builtinDigitsSites({ sites: options.sites, partition: { kind: 'dirichlet', alpha: 1 }, seed });
  const clients = datasets.map((full, k) => {
    const siteId = siteName(k);
    sent[siteId] = [];
    const connector = memory ? memory.connector() : socketIoConnector({ url: coordinator.url! });
    const client: SiteClient = new SiteClient({
      policy: testSitePolicy(),
      siteId,
      connector: recording(connector, sent[siteId]),
      data: splitDataset(head(full, 60), deriveSeed(seed, 'split', siteId)),
      backend: backend.backend,
      runtime: 'node',
      // A site that drops once its last fit is done: before the site report.
      onEvent: options.dropBeforeReport?.includes(siteId) ? (e) => e.type === 'fit-done' && setTimeout(() => client.stop(), 0) : undefined,
    });
    return client;
  });
  const runs = clients.map((c) => c.run());
  const report: RunReport = await coordinator.done;
  await Promise.all(runs);
  await coordinator.close();
  return { report, sent, clients };
}

describe('the per-site report after the final round', () => {
  it('20 sites over socket.io: every site reports four arms, robust summaries, and keeps its personal model', async () => {
    const { report, sent, clients } = await federation({
      transport: 'socket',
      sites: 20,
      config: {
        personalization: { mode: 'head', epochs: 2, validate: false },
        siteRobustness: { when: 'final', examples: 12, adversarialExamples: 6, noiseSigmas: [0.3], corruptions: false, pgdEps: [0.1], pgdSteps: 3 },
      },
    });
    expect(report.status, report.aborted).toBe('complete');
    const section = report.siteReport!;
    expect(section.mode).toBe('head');
    expect(section.localOnlyEpochs).toBe(1);
    expect(section.missing).toEqual([]);
    expect(section.sites.map((s) => s.siteId)).toEqual(clients.map((_, k) => siteName(k)).sort());
    for (const s of section.sites) {
      for (const arm of ['pretrained', 'localOnly', 'global', 'personalized'] as const) {
        expect(s.arms[arm], `${s.siteId} ${arm}`).toBeDefined();
        expect(s.arms[arm]!.robust!.pgd.map((p) => p.eps)).toEqual([0.1]);
        expect(s.arms[arm]!.robust!.noiseMean).not.toBeNull();
        expect(s.arms[arm]!.robust!.corruptionMean).toBeNull();
      }
      expect(s.adopted).toBe(true);
      // The paired counts are of the same test examples as the accuracies: (wins − losses) / n is their difference.
      for (const other of ['localOnly', 'global'] as const) {
        const c = s.comparisons![other]!;
        expect(c.wins + c.losses, `${s.siteId} vs ${other}`).toBeLessThanOrEqual(s.numExamples);
        expect((c.wins - c.losses) / s.numExamples, `${s.siteId} vs ${other}`).toBeCloseTo(s.arms.personalized!.accuracy - s.arms[other]!.accuracy, 9);
      }
    }
    expect(section.counts!.beyondNoise).toBeDefined();
    expect(Object.keys(section.worst).sort()).toEqual(['global', 'localOnly', 'personalized', 'pretrained']);
    const worstGlobal = Math.min(...section.sites.map((s) => s.arms.global.accuracy));
    expect(section.worst.global.clean.accuracy).toBe(worstGlobal);
    expect(section.counts!.sites).toBe(20);
    // Every site keeps its personal weights (here, in the SiteClient).
    for (const c of clients) expect(c.personalWeights).toBeDefined();
    // The personal model never leaves a site: after its last fit a site sends aggregates only, no binary at all.
    for (const [siteId, messages] of Object.entries(sent)) {
      const lastFit = messages.map((m) => m.event).lastIndexOf('fitResult');
      const after = messages.slice(lastFit + 1);
      expect(after.map((m) => m.event).filter((e) => e !== 'heartbeat'), siteId).toEqual(['siteReportResult']);
      for (const m of after) {
        expect(countBinaryFields(m.payload)).toBe(0);
        expect(JSON.stringify(m.payload).length).toBeLessThan(4096);
      }
    }
  });

  it("mode 'auto' (k-fold selection) over socket.io with 20 sites: each site's report holds the candidate its own cross-validation chose, the max of the candidates' at margin 0, and only aggregates leave", async () => {
    const { report, sent, clients } = await federation({
      transport: 'socket',
      sites: 20,
      config: {
        // 20 sites × every candidate × 2 folds in one process on a shared CPU: a generous round timeout.
        roundTimeoutMs: 600_000,
        personalization: { mode: 'auto', epochs: 1, guard: 'pgd', guardEps: 0.02, selection: 'kfold', folds: 2, selectionMargin: 0 },
        siteRobustness: { when: 'final', examples: 12, adversarialExamples: 6, noiseSigmas: [], corruptions: false, pgdEps: [0.05], pgdSteps: 2 },
      },
    });
    expect(report.status, report.aborted).toBe('complete');
    const section = report.siteReport!;
    expect(section.mode).toBe('auto');
    expect(section.sites).toHaveLength(20);
    for (const s of section.sites) {
      const candidates = s.candidates!;
      // Every candidate was tried, the local-only model last (the run trains the local-only baseline: k-fold retrains it per fold).
      expect(candidates.map((c) => c.candidate), s.siteId).toEqual([...AUTO_CANDIDATES]);
      const global = candidates[0];
      const eligible = candidates.filter((c) => passesRobustnessGuard(c, global));
      const chosen = candidates.find((c) => c.candidate === s.chosen)!;
      expect(s.chosen).toBe(selectPersonalCandidate(candidates).candidate);
      expect(chosen.accuracy).toBe(Math.max(...eligible.map((c) => c.accuracy)));
      expect(chosen.robustAccuracy!).toBeGreaterThanOrEqual(global.robustAccuracy!);
      expect(s.adopted).toBe(s.chosen !== 'global');
      // (k-fold refits a chosen local-only candidate on train ∪ validation, so it need not equal the baseline arm.)
      if (s.chosen === 'global') expect(s.arms.personalized!.accuracy).toBe(s.arms.global.accuracy);
    }
    for (const c of clients) expect(c.personalWeights).toBeDefined();
    // Only aggregates leave a site after its last fit: one small siteReportResult, no binary field.
    for (const [siteId, messages] of Object.entries(sent)) {
      const lastFit = messages.map((m) => m.event).lastIndexOf('fitResult');
      const after = messages.slice(lastFit + 1).filter((m) => m.event !== 'heartbeat');
      expect(after.map((m) => m.event), siteId).toEqual(['siteReportResult']);
      expect(countBinaryFields(after[0].payload)).toBe(0);
      expect(JSON.stringify(after[0].payload).length).toBeLessThan(4096);
      // The per-example validation results behind the paired margin stay at the site: only the four aggregates per candidate are sent.
      for (const c of (after[0].payload as { candidates: object[] }).candidates) expect(Object.keys(c).sort(), siteId).toEqual(['accuracy', 'candidate', 'loss', 'robustAccuracy']);
    }
  }, 900_000);

  it.each([
    ['guard off: no robust scores', { guard: 'off' }, (c: { robustAccuracy?: number }) => c.robustAccuracy === undefined, true],
    ['guard fgsm: robust scores', { guard: 'fgsm', guardEps: 0.02 }, (c: { robustAccuracy?: number }) => c.robustAccuracy !== undefined, true],
    ['no local-only baseline: no local-only candidate', { guard: 'off', localOnly: false }, (c: { candidate: string }) => c.candidate !== 'local-only', true],
  ] as const)("mode 'auto' in memory, %s", async (_name, over, holds, want) => {
    const { report } = await federation({ transport: 'memory', sites: 2, config: { personalization: { mode: 'auto', epochs: 1, ...over } } });
    expect(report.status, report.aborted).toBe('complete');
    for (const s of report.siteReport!.sites) {
      expect(s.candidates!.length).toBeGreaterThan(0);
      for (const c of s.candidates!) expect(holds(c as never), `${s.siteId} ${c.candidate}`).toBe(want);
    }
  });

  it('a site that drops before the site report is listed as missing, and the run still completes', async () => {
    const { report } = await federation({
      transport: 'memory',
      sites: 4,
      config: { personalization: { mode: 'ditto', epochs: 1, lambda: 1, localOnly: false } },
      dropBeforeReport: [siteName(1)],
    });
    expect(report.status, report.aborted).toBe('complete');
    const section = report.siteReport!;
    expect(section.sites.map((s) => s.siteId)).toEqual(['site-1', 'site-3', 'site-4']);
    expect(section.missing.map((m) => m.siteId)).toEqual(['site-2']);
    expect(section.missing[0].reason).toMatch(/disconnected/);
    expect(section.localOnlyEpochs).toBeUndefined();
    for (const s of section.sites) {
      expect(s.arms.localOnly).toBeUndefined();
      expect(s.arms.personalized).toBeDefined();
      expect(s.arms.global.robust).toBeUndefined();
    }
  });

  it('no site report unless asked: personalization none and siteRobustness never', async () => {
    const { report, sent } = await federation({ transport: 'memory', sites: 2, config: {} });
    expect(report.status).toBe('complete');
    expect(report.siteReport).toBeUndefined();
    expect(Object.values(sent).flat().some((m) => m.event === 'siteReportResult')).toBe(false);
  });
});
