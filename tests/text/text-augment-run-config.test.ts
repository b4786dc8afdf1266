import { expect, it } from 'vitest';
import { deriveSeed, labelOnlySplits, siteName, SiteClient, socketIoConnector, spamSiteTexts, splitTextDataset, TextTokenizer, vocabularyOfTextSection, type RunReport, type SiteEvent } from '@fedtune/shared';
import { builtinSpam, selectNodeBackend } from '@fedtune/shared/node';
import { loadModelDir, pretrainedSpamModelDir, readModelText, startCoordinator } from '@fedtune/coordinator';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

const SITES = 4;

/** One round of 4 text sites (raw texts, real SiteClients) over socket.io; site-2 opts out of text augmentation. */
async function textRound(runId: string, textAugmentation?: { copies: number; rate: number }): Promise<{ report: RunReport; terms: unknown; fits: Map<string, Extract<SiteEvent, { type: 'fit-done' }>> }> {
  const backend = await selectNodeBackend();
  const text = readModelText(pretrainedSpamModelDir())!;
  const { holdout, pool } = builtinSpam();
  const seed = 9;
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: await loadModelDir(pretrainedSpamModelDir()),
    architecture: 'text-cnn',
    text,
    holdout: head(new TextTokenizer(vocabularyOfTextSection(text)).toDataset(holdout), 100),
    backend: backend.backend,
    transport: 'socket',
    config: { runId, rounds: 1, minSites: SITES, seed, roundTimeoutMs: 120_000, joinTimeoutMs: 120_000, robustness: { when: 'never' }, federatedEvaluation: 'never', train: { epochs: 1, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all', ...(textAugmentation ? { textAugmentation } : {}) } },
  });
  try {
    const fits = new Map<string, Extract<SiteEvent, { type: 'fit-done' }>>();
    const shares = spamSiteTexts(pool, { sites: SITES, partition: 'iid', seed, maxSiteExamples: 40 });
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
        ...(siteId === 'site-2' ? { textAugmentation: false } : {}),
        onEvent: (e) => {
          if (e.type === 'fit-done') fits.set(siteId, e);
        },
      });
    });
    await Promise.all(clients.map((c) => c.run()));
    return { report: await coordinator.done, terms: coordinator.engine.termsGate.signed.terms.train, fits };
  } finally {
    await coordinator.close();
  }
}

// The run's textAugmentation reaches the sites in the fit config and the signed terms; a site trains on its
// texts plus perturbed copies (so its training loss differs from the same round without), claims only its
// own count, and a site that opts out (--no-text-augment) trains exactly as without.
it('text augmentation as a run-config field: in the terms and the fit config, honoured by text sites, a site may opt out (socket.io)', async () => {
  const off = await textRound('text-augment-off');
  const on = await textRound('text-augment-on', { copies: 2, rate: 0.3 });
  expect(off.report.status).toBe('complete');
  expect(on.report.status).toBe('complete');
  expect((off.terms as { textAugmentation?: unknown }).textAugmentation).toBeUndefined();
  expect((on.terms as { textAugmentation?: unknown }).textAugmentation).toEqual({ copies: 2, rate: 0.3 });
  expect((on.report.config as { train: { textAugmentation?: unknown } }).train.textAugmentation).toEqual({ copies: 2, rate: 0.3 });
  for (let k = 0; k < SITES; k++) {
    const siteId = siteName(k);
    const [a, b] = [off.fits.get(siteId)!, on.fits.get(siteId)!];
    // Each site claims its own 32 training texts either way (the copies are not examples of the site).
    expect([a.numExamples, b.numExamples]).toEqual([32, 32]);
    if (siteId === 'site-2') expect(b.loss).toBe(a.loss);
    else expect(b.loss).not.toBe(a.loss);
  }
  for (const accepted of on.report.rounds[0]!.accepted) expect(accepted.numExamples).toBe(32);
}, 600_000);
