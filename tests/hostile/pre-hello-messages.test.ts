import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite } from './helpers.ts';

// Nothing but an accepted hello is processed from a connection: before it, every message (valid for
// another site's identity, malformed, or of no known event) gets a typed refusal and leaves no trace in
// the round, the report or the engine's events.
it('messages before hello are refused with a typed code and have no effect on the round or its record', async () => {
  const events: EngineEvent[] = [];
  // site-b answers with the global weights unchanged (norm 0), under the default defences: a zero-delta
  // update must not drive the adaptive norm bound to 0 and refuse site-a (update-guard.ts).
  const coordinator = await startTinyCoordinator({ runId: 'pre-hello', minSites: 2, onEvent: (e) => events.push(e) });
  try {
    const honest = await honestSite(coordinator.url!, 'site-a');
    const holder = await attacker(coordinator.url!);
    holder.hello('site-b');
    const fit = await holder.next('fit', 30_000);

    const evil = await attacker(coordinator.url!);
    // Well-formed messages in site-b's name: a failure report, a result, a heartbeat.
    evil.socket.emit('siteFailure', { runId: fit.runId, round: fit.round, siteId: 'site-b', code: 'data', reason: 'forged' });
    evil.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-b', weights: fit.weights, numExamples: 1_000_000, metrics: { loss: 0, accuracy: 1 }, durationMs: 1 });
    evil.socket.emit('heartbeat', { siteId: 'site-b', status: 'idle' });
    // Malformed ones.
    evil.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-b', weights: 'not bytes' });
    evil.socket.emit('evaluateResult', 42);
    evil.socket.emit('no-such-event', { x: 1 });
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await evil.next('rejected'));
    // Malformed ones too are refused as 'unauthorized': before a hello nothing is even parsed.
    expect(replies.map((r) => r.code)).toEqual(['unauthorized', 'unauthorized', 'unauthorized', 'unauthorized', 'unauthorized', 'unauthorized']);
    expect(replies[0].reason).toMatch(/send hello before anything else/);

    // site-b's own answer is still taken: the forged failure and result changed nothing.
    holder.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-b', weights: fit.weights, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    expect((await honest.run).completed).toBe(true);
    const round = report.rounds[0];
    expect(round.accepted.map((u) => [u.siteId, u.numExamples])).toEqual([['site-a', honest.numExamples], ['site-b', 40]]);
    expect(round.rejected).toEqual([]);
    expect(round.failed).toEqual([]);
    expect(JSON.stringify(report)).not.toMatch(/connection:/);
    expect(events.filter((e) => e.type === 'result' && !e.accepted)).toEqual([]);
    // The connection is told apart in the log once, as a count.
    evil.socket.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(events.filter((e) => e.type === 'connection-refused')).toEqual([expect.objectContaining({ refusals: 6 })]);
    holder.socket.close();
  } finally {
    await coordinator.close();
  }
});
