import { describe, expect, it } from 'vitest';
import { parseClientMessage, parseServerMessage, PROTOCOL_VERSION, type SiteReportResult } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

const arm = { accuracy: 0.8, loss: 0.5, robust: { noiseMean: 0.7, corruptionMean: 0.6, pgd: [{ eps: 0.1, accuracy: 0.3 }] } };
const valid: SiteReportResult = { runId: 'r', round: 3, siteId: 'site-1', numExamples: 40, arms: { pretrained: arm, localOnly: arm, global: arm, personalized: arm }, adopted: true, durationMs: 12 };

describe('siteReportResult: what a site reports is range-checked and bounded', () => {
  it('a valid report parses to itself', () => {
    expect(parseClientMessage('siteReportResult', valid)).toEqual(valid);
    expect(parseClientMessage('siteReportResult', { ...valid, chosen: 'mix-0.5' })).toEqual({ ...valid, chosen: 'mix-0.5' });
    const candidates = [{ candidate: 'global', accuracy: 0.8, loss: 0.5, robustAccuracy: 0.2 }, { candidate: 'local-only', accuracy: 0.9, loss: 0.4 }];
    expect(parseClientMessage('siteReportResult', { ...valid, chosen: 'local-only', candidates })).toEqual({ ...valid, chosen: 'local-only', candidates });
  });

  it.each([
    ['NaN accuracy', { arms: { global: { ...arm, accuracy: NaN } } }],
    ['accuracy above 1', { arms: { global: { ...arm, accuracy: 1.01 } } }],
    ['negative loss', { arms: { global: { ...arm, loss: -1 } } }],
    ['infinite loss', { arms: { global: { ...arm, loss: Infinity } } }],
    ['five PGD rows', { arms: { global: { ...arm, robust: { ...arm.robust, pgd: Array.from({ length: 5 }, () => ({ eps: 0.1, accuracy: 0.2 })) } } } }],
    ['ε above 1', { arms: { global: { ...arm, robust: { ...arm.robust, pgd: [{ eps: 3, accuracy: 0.2 }] } } } }],
    ['noise mean above 1', { arms: { global: { ...arm, robust: { ...arm.robust, noiseMean: 1.5 } } } }],
    ['no global arm', { arms: { personalized: arm } }],
    ['negative test count', { numExamples: -1 }],
    ['fractional test count', { numExamples: 2.5 }],
    ['a duration over a day', { durationMs: 1e12 }],
    ['a site id with spaces', { siteId: 'site 1' }],
    ['a 10,000-character site id', { siteId: 'x'.repeat(10_000) }],
    ['arms as a string', { arms: 'all good' }],
    ['an unknown auto choice', { chosen: 'the-test-split' }],
    ['a 10,000-character auto choice', { chosen: 'x'.repeat(10_000) }],
    ['ten candidates', { candidates: Array.from({ length: 10 }, () => ({ candidate: 'head', accuracy: 0.5, loss: 1 })) }],
    ['an unknown candidate', { candidates: [{ candidate: 'test-split', accuracy: 0.5, loss: 1 }] }],
    ['a candidate accuracy above 1', { candidates: [{ candidate: 'global', accuracy: 1.5, loss: 1 }] }],
    ['a NaN candidate loss', { candidates: [{ candidate: 'global', accuracy: 0.5, loss: NaN }] }],
    ['a candidate loss above the bound', { candidates: [{ candidate: 'global', accuracy: 0.5, loss: 1e7 }] }],
    ['a negative candidate robust accuracy', { candidates: [{ candidate: 'global', accuracy: 0.5, loss: 1, robustAccuracy: -0.1 }] }],
    ['candidates as a string', { candidates: 'all' }],
  ])('refuses %s (malformed_payload)', (_name, change) => {
    let code: string | undefined;
    try {
      parseClientMessage('siteReportResult', { ...valid, ...change });
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('malformed_payload');
  });

  it('a site refuses an instruction asking for unbounded work (too many ε values, a negative epoch count, unknown mode)', () => {
    const instruction = { runId: 'r', round: 1, modelVersion: 1, weights: new Uint8Array(4), train: { epochs: 1, batchSize: 8, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 1 } };
    expect(() => parseServerMessage('siteReport', instruction)).not.toThrow();
    const robustness = { examples: 10, adversarialExamples: 5, noiseSigmas: [0.1], corruptions: false, pgdEps: [0.1], pgdSteps: 5, seed: 1 };
    for (const bad of [
      { robustness: { ...robustness, pgdEps: [0.1, 0.2, 0.3, 0.4, 0.5] } },
      { robustness: { ...robustness, examples: 1e9 } },
      { personalization: { mode: 'head', epochs: -1, lambda: 0, validate: true } },
      { personalization: { mode: 'everything', epochs: 1, lambda: 0, validate: true } },
      { personalization: { mode: 'ditto', epochs: 1, lambda: Infinity, validate: true } },
      { personalization: { mode: 'auto', epochs: 1, lambda: 0, validate: true, guard: 'cw' } },
      { personalization: { mode: 'auto', epochs: 1, lambda: 0, validate: true, guard: 'pgd', guardEps: 2 } },
      { personalization: { mode: 'auto', epochs: 1, lambda: 0, validate: true, guard: 'pgd', guardEps: NaN } },
      { localOnlyEpochs: 0 },
    ]) {
      expect(() => parseServerMessage('siteReport', { ...instruction, ...bad }), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'malformed_payload' }));
    }
  });
});

describe('the coordinator and hostile site reports', () => {
  it('refuses garbage and impersonation, ignores unsolicited reports, keeps the valid one, and completes', async () => {
    const { coordinator, connector, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 60,
      config: { minSites: 3, federatedEvaluation: 'never', personalization: { mode: 'head', epochs: 1, localOnly: false } },
    });
    const rejections: string[] = [];
    const raw = await connector().connect();
    const siteId = 'site-raw';
    const done = new Promise<void>((resolve) => {
      raw.onMessage((m) => {
        if (m.event === 'terms') raw.send('acceptTerms', { runId: m.payload.terms.runId, siteId, hash: m.payload.hash });
        if (m.event === 'rejected') rejections.push(m.payload.code);
        if (m.event === 'fit') {
          // Unsolicited: no site report is pending during a round; it must be ignored, not stored.
          raw.send('siteReportResult', { ...valid, runId: m.payload.runId, round: m.payload.round, siteId, arms: { global: { accuracy: 0.99, loss: 0 } } });
          raw.send('fitResult', { runId: m.payload.runId, round: m.payload.round, siteId, weights: m.payload.weights!, numExamples: 10, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
        }
        if (m.event === 'siteReport') {
          const r = { ...valid, runId: m.payload.runId, round: m.payload.round, siteId };
          raw.sendUnchecked('siteReportResult', { ...r, arms: { global: { accuracy: NaN, loss: 1 } } });
          raw.sendUnchecked('siteReportResult', { ...r, numExamples: 'lots' });
          raw.send('siteReportResult', { ...r, siteId: 'site-1' });
          raw.send('siteReportResult', { ...r, round: r.round + 7 });
          raw.send('siteReportResult', { ...r, arms: { global: { accuracy: 0.25, loss: 2 }, personalized: { accuracy: 0.5, loss: 1 } }, adopted: true });
          // A second report after the accepted one changes nothing.
          raw.send('siteReportResult', { ...r, arms: { global: { accuracy: 1, loss: 0 } } });
        }
        if (m.event === 'complete') resolve();
      });
    });
    raw.send('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'none', runtime: 'node', numExamples: 10 } });
    const report = await coordinator.done;
    await Promise.all([...siteRuns, done]);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    expect(rejections).toEqual(['malformed_payload', 'malformed_payload', 'unauthorized']);
    const section = report.siteReport!;
    expect(section.sites.map((s) => s.siteId)).toEqual(['site-1', 'site-2', 'site-raw']);
    const mine = section.sites.find((s) => s.siteId === siteId)!;
    expect(mine.arms.global).toEqual({ accuracy: 0.25, loss: 2 });
    // It reported a test split of 40 but announced 10 training examples at hello: held to them.
    expect(mine.numExamples).toBe(10);
    expect(section.worst.global.clean).toEqual({ siteId, accuracy: 0.25 });
    expect(section.missing).toEqual([]);
  });
});
