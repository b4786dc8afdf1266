import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { hello, rawSite, startTinyCoordinator } from '../access/helpers.ts';
import { attacker, until } from './helpers.ts';
import { REPLAYED_PEER_EVENTS } from '../../coordinator/src/http/dashboard/live-events.ts';

/** The dashboard's first server-sent event: the snapshot of the engine events it replays. */
async function snapshot(url: string): Promise<Array<{ type: string; record?: { round: number } }>> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/events`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value, { stream: true });
  controller.abort();
  const data = text.split('\n\n')[0].split('\n').find((l) => l.startsWith('data: '))!.slice(6);
  return (JSON.parse(data) as { events: Array<{ type: string; record?: { round: number } }> }).events;
}

/**
 * The dashboard rebuilds a run from the engine events the coordinator keeps (LiveEvents, bounded): a dashboard
 * opened mid-run sees every round so far, and the peers' latest REPLAYED_PEER_EVENTS (live-events-replay.test.ts). Peers that join under fresh names and send refused updates produce
 * events of their own (site joined, update received, result, connection refused, site left) as fast as they
 * like; they used to push the round records out of that history, so the dashboard showed no rounds. The run's own
 * events (a few per round) are kept whatever the peers do.
 */
it('a flood of peer events does not push the rounds out of the dashboard history', { timeout: 180_000 }, async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'history-flood', minSites: 1, rounds: 2, onEvent: (e) => events.push(e), config: { runId: 'history-flood', rounds: 2, roundTimeoutMs: 120_000 } });
  try {
    const sleeper = await rawSite(coordinator.url!);
    hello(sleeper, 'site-a');
    const answer = (fit: Awaited<ReturnType<typeof sleeper.next<'fit'>>>) =>
      sleeper.link.send('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-a', weights: fit.weights!, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    answer(await sleeper.next('fit'));
    const fit2 = await sleeper.next('fit'); // round 1 is over; round 2 stays open while the peers flood
    expect((await snapshot(coordinator.url!)).filter((e) => e.type === 'round-end').map((e) => e.record!.round)).toEqual([1]);
    const flood = async (worker: number) => {
      for (let cycle = 0; cycle < 60; cycle++) {
        const siteId = `evil-${worker}-${cycle}`;
        const peer = await attacker(coordinator.url!);
        peer.hello(siteId);
        await until(() => events.some((e) => e.type === 'site-joined' && e.siteId === siteId), `${siteId} joined`);
        for (let i = 0; i < 25; i++) peer.socket.emit('fitResult', { runId: fit2.runId, round: fit2.round, siteId, weights: Buffer.alloc(8), numExamples: 1, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
        await peer.closed;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => flood(w)));
    expect(events.filter((e) => e.type !== 'update-received').length).toBeGreaterThan(10_000);
    const history = await snapshot(coordinator.url!);
    expect(history.length).toBeLessThanOrEqual(REPLAYED_PEER_EVENTS + 20);
    expect(history.filter((e) => e.type === 'round-end').map((e) => e.record!.round)).toEqual([1]);
    expect(history.filter((e) => e.type === 'pretrained')).toHaveLength(1);
    answer(fit2);
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
  } finally {
    await coordinator.close();
  }
});
