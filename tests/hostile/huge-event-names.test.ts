import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SiteTokenStore, type EngineEvent } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';
import { attacker, honestSite, until } from './helpers.ts';

// Finding 1 of issue 11: with --require-tokens, a connection that never says hello sends messages whose
// event name is megabytes long. Each refusal used to quote the whole name into the round record (report,
// checkpoints, database, log) until the report writer died of RangeError.
const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
afterAll(() => store.close());

// Since 2026-12-04 a connection's messages before its welcome are at most ConnectionLimits.preHelloMessageBytes
// (64 KB): names up to that get a small typed refusal each; a longer message closes the connection at its frame header.
it('event names of 60 KB before hello get a small typed refusal each, 1–15 MB ones close the connection unread, nothing of them is recorded, and the run completes', async () => {
  const tokens = { a: store.add('site-a'), b: store.add('site-b') };
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'huge-names', minSites: 2, access: { store, requireTokens: true }, onEvent: (e) => events.push(e), database: true });
  try {
    const honest = await honestSite(coordinator.url!, 'site-a', { token: tokens.a });
    // site-b holds the round open (it answers only after the attack), so the flood lands mid-round.
    const holder = await attacker(coordinator.url!);
    holder.hello('site-b', tokens.b);
    await holder.next('fit', 30_000);

    const evil = await attacker(coordinator.url!);
    const names = Array.from({ length: 10 }, (_, i) => `${String.fromCharCode(97 + i)}`.repeat(60 * 1024));
    for (const name of names) evil.socket.emit(name, { siteId: 'site-b' });
    await until(() => evil.received.filter((m) => m.event === 'rejected').length >= names.length, 'a refusal per message', 60_000);
    const replies = evil.received.filter((m) => m.event === 'rejected').map((m) => m.payload as { code: string; reason: string });
    for (const reply of replies) {
      // Before hello nothing is parsed: the refusal names the (clipped) event, not a schema error.
      expect(reply.code).toBe('unauthorized');
      expect(reply.reason).toMatch(/^send hello before anything else \(got "/);
      expect(JSON.stringify(reply).length).toBeLessThan(600);
    }
    // Past the pre-hello limit the websocket closes the connection as the frame header is read: no refusal, nothing buffered.
    for (const mb of [15, 1]) {
      const big = await attacker(coordinator.url!);
      big.socket.emit('q'.repeat(mb * 1024 * 1024), { siteId: 'site-b' });
      expect(await big.closed).toBe('transport close');
      expect(big.received).toEqual([]);
    }

    // site-b, joined, answers with a huge event name too: that is recorded against it as its answer, clipped. (Half a
    // megabyte: a welcomed connection's text packets are at most connectionLimits.maxTextMessageBytes, 1 MiB; a
    // longer one closes it unread, tests/hostile/welcomed-packet-bounds.test.ts.)
    holder.socket.emit('z'.repeat(512 * 1024), {});
    expect(JSON.stringify(await holder.next('rejected', 30_000)).length).toBeLessThan(600);
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    expect((await honest.run).completed).toBe(true);
    expect(report.rounds[0].accepted.map((u) => u.siteId)).toEqual(['site-a']);
    // Nothing a connection sent before hello is in the round record; site-b's refusal is, clipped.
    expect(report.rounds[0].rejected).toEqual([{ siteId: 'site-b', code: 'malformed_payload', reason: expect.stringMatching(/^unknown client event "zzz/) }]);
    expect(report.rounds[0].rejected[0].reason.length).toBeLessThan(400);
    expect(statSync(join(coordinator.runDir, 'report.json')).size).toBeLessThan(100_000);
    const db = join(coordinator.runDir, '..', 'fedtune.db');
    expect(statSync(db).size).toBeLessThan(1_000_000);
    expect(readFileSync(join(coordinator.runDir, 'report.json'), 'utf8')).not.toMatch(/a{400}|b{400}|z{400}/);
    // The engine's events (logs, dashboard, metrics) carry no result for the connection, and whatever
    // they say of it is bounded.
    expect(events.filter((e) => e.type === 'result' && !e.accepted).map((e) => e.type === 'result' && e.siteId)).toEqual(['site-b']);
    expect(JSON.stringify(events.filter((e) => e.type !== 'round-end' && e.type !== 'complete')).length).toBeLessThan(20_000);
    holder.socket.close();
    evil.socket.close();
  } finally {
    await coordinator.close();
  }
});
