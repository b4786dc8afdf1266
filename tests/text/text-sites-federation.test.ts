import { describe, expect, it } from 'vitest';
import { deriveSeed, labelOnlySplits, siteName, SiteClient, socketIoConnector, spamSiteTexts, splitTextDataset, TextTokenizer, vocabularyHashOf, vocabularyOfTextSection, type SiteEvent } from '@fedtune/shared';
import { builtinSpam, selectNodeBackend } from '@fedtune/shared/node';
import { loadModelDir, pretrainedSpamModelDir, readModelText, startCoordinator } from '@fedtune/coordinator';
import { head, startTestFederation, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

describe('text sites in a federation (the model brings its vocabulary)', () => {
  it('20 text sites over socket.io tokenize their own texts with the vocabulary of the terms and train one round', async () => {
    const backend = await selectNodeBackend();
    const text = readModelText(pretrainedSpamModelDir())!;
    const tokenizer = new TextTokenizer(vocabularyOfTextSection(text));
    const { holdout, pool } = builtinSpam();
    const seed = 5;
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedSpamModelDir()),
      architecture: 'text-cnn',
      text,
      holdout: head(tokenizer.toDataset(holdout), 100),
      backend: backend.backend,
      transport: 'socket',
      config: { runId: 'text-sites-20', rounds: 1, minSites: 20, seed, roundTimeoutMs: 120_000, joinTimeoutMs: 120_000, robustness: { when: 'never' } },
    });
    try {
      expect(coordinator.engine.termsGate.signed.terms.model.vocabularyHash).toBe(vocabularyHashOf(text));
      const shares = spamSiteTexts(pool, { sites: 20, partition: 'iid', seed, maxSiteExamples: 40 });
      const models: string[] = [];
      const failures: SiteEvent[] = [];
      const clients = shares.map((share, k) => {
        const siteId = siteName(k);
        const textData = splitTextDataset(share, deriveSeed(seed, 'split', siteId));
        return new SiteClient({
          policy: testSitePolicy(),
          siteId,
          connector: socketIoConnector({ url: coordinator.url! }),
          data: labelOnlySplits(textData),
          textData,
          backend: backend.backend,
          runtime: 'node',
          onEvent: (e) => {
            if (e.type === 'model') models.push(siteId);
            if (e.type === 'failed') failures.push(e);
          },
        });
      });
      const outcomes = await Promise.all(clients.map((c) => c.run()));
      const report = await coordinator.done;
      expect(failures).toEqual([]);
      expect(outcomes.every((o) => o.completed && o.roundsTrained === 1)).toBe(true);
      expect(models).toHaveLength(20);
      expect(report.status).toBe('complete');
      expect(report.rounds[0]!.accepted).toHaveLength(20);
      // Each site trained on the token ids of its own 32 training e-mails (40 less validation and test).
      for (const a of report.rounds[0]!.accepted) expect(a.numExamples).toBe(32);
    } finally {
      await coordinator.close();
    }
  }, 600_000);

  it('a text site offered an image model (no vocabulary) fails with one clear line; the other sites train', async () => {
    const failures: Array<{ siteId: string; event: SiteEvent }> = [];
    const texts = splitTextDataset({ texts: Array.from({ length: 20 }, (_, i) => `mail ${i}`), labels: Int32Array.from({ length: 20 }, (_, i) => i % 2), classNames: ['ham', 'spam'] }, 1);
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { minSites: 1, fraction: 1 },
      siteOptions: (siteId) => (siteId === siteName(0) ? { data: labelOnlySplits(texts), textData: texts } : {}),
      onSiteEvent: (siteId, event) => {
        if (event.type === 'failed') failures.push({ siteId, event });
      },
    });
    try {
      await Promise.all(siteRuns);
      const report = await coordinator.done;
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((f) => f.siteId === siteName(0))).toBe(true);
      const first = failures[0]!.event as Extract<SiteEvent, { type: 'failed' }>;
      expect(first.round).toBe(0);
      expect(first.reason).toBe(`${siteName(0)}'s data is text, but the run's model comes without a vocabulary (not a text model): this site cannot train it`);
      expect(report.rounds.flatMap((r) => r.accepted.map((a) => a.siteId))).toEqual([siteName(1)]);
    } finally {
      await coordinator.close();
    }
  }, 300_000);
});
