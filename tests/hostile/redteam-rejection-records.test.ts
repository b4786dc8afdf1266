import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { MAX_ROUND_REJECTIONS } from '@fedtune/coordinator';
import { hello, rawSite, startTinyCoordinator } from '../access/helpers.ts';
import { attacker, until } from './helpers.ts';

/**
 * While a round is open, peers that join under fresh names (no site tokens) each send refused updates until
 * their connection is cut (maxRefusals), then come back under another name. Every refusal used to be kept in
 * the round's record: report.json, report.html and the run database grew with the attacker's effort, not with
 * the federation. The record lists at most MAX_ROUND_REJECTIONS and counts the rest.
 */
it('refused updates from a stream of throw-away sites: the round record stays bounded and counts the rest', { timeout: 120_000 }, async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'rejection-flood', minSites: 1, onEvent: (e) => events.push(e), config: { runId: 'rejection-flood', roundTimeoutMs: 60_000 } });
  try {
    // The one selected site: it holds the round open, then answers with the global model (a valid update).
    const sleeper = await rawSite(coordinator.url!);
    hello(sleeper, 'site-a');
    const fit = await sleeper.next('fit');
    const flood = async (worker: number) => {
      for (let cycle = 0; cycle < 6; cycle++) {
        const siteId = `evil-${worker}-${cycle}`;
        const peer = await attacker(coordinator.url!);
        peer.hello(siteId);
        await until(() => events.some((e) => e.type === 'site-joined' && e.siteId === siteId), `${siteId} joined`);
        for (let i = 0; i < 25; i++) peer.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId, weights: Buffer.alloc(8), numExamples: 1, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
        await peer.closed;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => flood(w)));
    const refused = events.filter((e) => e.type === 'result' && !e.accepted && e.siteId.startsWith('evil-')).length;
    expect(refused).toBeGreaterThan(2 * MAX_ROUND_REJECTIONS);
    sleeper.link.send('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-a', weights: fit.weights!, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    const record = report.rounds[0];
    expect(record.accepted.map((a) => a.siteId)).toEqual(['site-a']);
    expect(record.rejected.length).toBe(MAX_ROUND_REJECTIONS);
    expect(record.rejected.length + (record.rejectedNotListed ?? 0)).toBe(refused);
    const html = readFileSync(join(coordinator.runDir, 'report.html'), 'utf8');
    expect(html).toContain(`${refused} update(s) refused by the coordinator; the first ${MAX_ROUND_REJECTIONS} listed`);
  } finally {
    await coordinator.close();
  }
});
