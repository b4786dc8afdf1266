import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { MAX_SUMMARY_CLASSES } from '@fedtune/shared';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite } from './helpers.ts';

// The data-summary message from an attacker speaking the wire protocol over socket.io: before hello, before
// accepting the terms, malformed (oversize, wrong types, non-finite), for another run or site,
// twice, and with extra fields. Each gets a typed refusal; only the one valid summary is recorded, and the run completes.
it('hostile data summaries are refused with typed codes and only the valid one is recorded', { timeout: 120_000 }, async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'summary-hostile', minSites: 2, onEvent: (e) => events.push(e) });
  try {
    const counts = { examples: 40, duplicatesDropped: 1, missingImputed: 0, constantFeatures: 0, labelCounts: [20, 20] };
    // Not joined at all.
    const stranger = await attacker(coordinator.url!);
    stranger.socket.emit('dataSummary', { runId: 'summary-hostile', siteId: 'site-b', ...counts });
    expect(await stranger.next('rejected')).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(/send hello before anything else/) });
    stranger.socket.close();

    const honest = await honestSite(coordinator.url!, 'site-a');
    const evil = await attacker(coordinator.url!);
    // Said hello, but has not accepted the run's terms yet (this leaves before the terms arrive).
    evil.hello('site-b');
    evil.socket.emit('dataSummary', { runId: 'summary-hostile', siteId: 'site-b', ...counts });
    expect(await evil.next('rejected')).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(/accept the run's terms before sending "dataSummary"/) });
    const fit = await evil.next('fit', 30_000);

    const bad: Array<[string, Record<string, unknown>, string]> = [
      ['oversize', { labelCounts: new Array(MAX_SUMMARY_CLASSES + 1).fill(1) }, 'malformed_payload'],
      ['wrong type', { examples: 'forty' }, 'malformed_payload'],
      // JSON carries NaN and Infinity as null: a non-finite count arrives as a wrong type.
      ['non-finite', { missingImputed: Number.NaN, constantFeatures: Number.POSITIVE_INFINITY }, 'malformed_payload'],
      ['another run', { runId: 'other-run' }, 'stale_round'],
      ['another site', { siteId: 'site-a' }, 'unauthorized'],
    ];
    for (const [what, change, code] of bad) {
      evil.socket.emit('dataSummary', { runId: fit.runId, siteId: 'site-b', ...counts, ...change });
      expect(await evil.next('rejected'), what).toMatchObject({ code });
    }
    // Valid, with raw values smuggled in extra fields: recorded without them. The smuggled numbers have
    // digits no metric in the report can share by chance (0.125 once matched a real metric).
    evil.socket.emit('dataSummary', { runId: fit.runId, siteId: 'site-b', ...counts, rows: [[0.31415926535, 0.27182818284]], labelNames: ['secret-label'] });
    evil.socket.emit('dataSummary', { runId: fit.runId, siteId: 'site-b', ...counts, examples: 4000 });
    expect(await evil.next('rejected')).toMatchObject({ code: 'duplicate_result', reason: expect.stringMatching(/sent its data summary already/) });

    evil.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-b', weights: fit.weights, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    expect((await honest.run).completed).toBe(true);
    expect(report.dataSummaries).toEqual({ total: { sites: 1, ...counts }, sites: [{ siteId: 'site-b', ...counts }] });
    expect(JSON.stringify(report)).not.toMatch(/secret-label|31415926535|27182818284/);
    expect(events.filter((e) => e.type === 'data-summary')).toEqual([expect.objectContaining({ siteId: 'site-b', summary: counts })]);
    evil.socket.close();
  } finally {
    await coordinator.close();
  }
});
