import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteTokenStore, type RunningCoordinator } from '@fedtune/coordinator';
import { deriveSeed, SiteClient, socketIoConnector, splitDataset, type SiteEvent } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { hello, rawSite, startTinyCoordinator, tempDir, tinyData, tryJoin } from './helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

describe('site tokens at the coordinator (socket.io)', () => {
  const dbPath = join(tempDir(), 'fedtune.db');
  const store = new SiteTokenStore(dbPath);
  const tokens: Record<string, string> = {};
  let coordinator: RunningCoordinator;
  const refusals: string[] = [];

  beforeAll(async () => {
    for (const name of ['site-a', 'site-b', 'site-c']) tokens[name] = store.add(name);
    store.revoke('site-c');
    coordinator = await startTinyCoordinator({
      runId: 'access-run',
      minSites: 2,
      access: { store, onRefusal: (r) => refusals.push(`${r.siteId}: ${r.reason}`) },
    });
  });

  afterAll(async () => {
    await coordinator.close();
    store.close();
  });

  it('refuses a hello without a token, with a wrong one, with a revoked one, or for an unknown site — with the reason', async () => {
    const cases: Array<[string, string | undefined, RegExp]> = [
      ['site-a', undefined, /site site-a refused: token required/],
      // A wrong token and an unknown name in the same words: the peer cannot tell a registered name from another.
      ['site-a', tokens['site-b'], /^site site-a refused: unknown site or invalid token \(/],
      ['site-a', 'x'.repeat(43), /^site site-a refused: unknown site or invalid token \(/],
      ['site-c', tokens['site-c'], /site site-c refused: token revoked/],
      ['site-z', tokens['site-a'], /^site site-z refused: unknown site or invalid token \(/],
    ];
    for (const [siteId, token, reason] of cases) {
      const { site, answer } = await tryJoin(coordinator.url!, siteId, token);
      expect(answer.event).toBe('rejected');
      expect(answer.payload).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(reason) });
      await site.closed; // and the coordinator hangs up
    }
    expect(coordinator.engine.sites.size).toBe(0);
    expect(refusals).toHaveLength(cases.length);
  });

  it('a SiteClient with a wrong token stops at once and sees the reason', async () => {
    const backend = await selectNodeBackend();
    const events: SiteEvent[] = [];
    const client = new SiteClient({
      policy: testSitePolicy(),
      siteId: 'site-a',
      token: tokens['site-b'],
      connector: socketIoConnector({ url: coordinator.url! }),
      data: splitDataset(tinyData(40, 1), 1),
      backend: backend.backend,
      runtime: 'node',
      reconnect: { retries: 3, baseDelayMs: 50 },
      onEvent: (e) => events.push(e),
    });
    const outcome = await client.run();
    expect(outcome.completed).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'rejected', code: 'unauthorized', reason: expect.stringMatching(/invalid token/) }));
    expect(events.filter((e) => e.type === 'reconnecting')).toHaveLength(0);
  });

  it('accepts the right tokens and the run completes; a site that submits as another is rejected', async () => {
    const backend = await selectNodeBackend();
    // site-a: an honest client with its token.
    const honest = new SiteClient({
      policy: testSitePolicy(),
      siteId: 'site-a',
      token: tokens['site-a'],
      connector: socketIoConnector({ url: coordinator.url! }),
      data: splitDataset(tinyData(60, 2), deriveSeed(1, 'split', 'site-a')),
      backend: backend.backend,
      runtime: 'node',
    });
    const honestRun = honest.run();
    // site-b: joins with its own valid token, then sends its result claiming to be site-a.
    const forger = await rawSite(coordinator.url!);
    hello(forger, 'site-b', tokens['site-b']);
    expect((await forger.next('welcome')).siteId).toBe('site-b');
    const fit = await forger.next('fit', 30_000);
    forger.link.send('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-a', weights: fit.weights!, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const rejected = await forger.next('rejected');
    expect(rejected).toMatchObject({ code: 'unauthorized', reason: 'connection joined as site-b but the message claims site-a' });

    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    const round = report.rounds[0];
    expect(round.selected).toEqual(['site-a', 'site-b']);
    expect(round.accepted.map((u) => u.siteId)).toEqual(['site-a']);
    expect(round.rejected).toContainEqual(expect.objectContaining({ siteId: 'site-b', code: 'unauthorized' }));
    expect((await honestRun).completed).toBe(true);
    forger.link.close();
    const listed = Object.fromEntries(store.list().map((r) => [r.name, r]));
    expect(listed['site-a'].lastUsedAt).toBeDefined();
    expect(listed['site-c'].lastUsedAt).toBeUndefined();
  });

  it('a revocation (from another process) applies to the next connection at once', async () => {
    const cli = new SiteTokenStore(dbPath);
    const before = await tryJoin(coordinator.url!, 'site-b', tokens['site-b']);
    expect(before.answer.event).toBe('welcome');
    before.site.link.close();
    expect(cli.revoke('site-b')).toBe(true);
    cli.close();
    const after = await tryJoin(coordinator.url!, 'site-b', tokens['site-b']);
    expect(after.answer.payload).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(/token revoked/) });
  });
});

describe('hello attempts per address', () => {
  it('are limited per minute: beyond the limit the coordinator answers rate_limited', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    store.add('site-a');
    const coordinator = await startTinyCoordinator({ runId: 'hello-limit', access: { store, hellosPerMinute: 3 } });
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const { site, answer } = await tryJoin(coordinator.url!, 'site-a', `guess-${i}`);
        answers.push(answer.payload);
        await site.closed;
      }
      expect(answers.slice(0, 3)).toEqual(Array(3).fill(expect.objectContaining({ code: 'unauthorized', reason: expect.stringMatching(/invalid token/) })));
      expect(answers[3]).toMatchObject({ code: 'rate_limited', reason: expect.stringMatching(/too many join attempts from .*; retry in \d+ s/) });
    } finally {
      await coordinator.close();
      store.close();
    }
  });

  it('with no site registered and tokens not forced, anyone may join', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const coordinator = await startTinyCoordinator({ runId: 'open', minSites: 2, access: { store } });
    try {
      const { site, answer } = await tryJoin(coordinator.url!, 'anyone');
      expect(answer.event).toBe('welcome');
      site.link.close();
      // --require-tokens: the same empty registry now refuses everyone.
    } finally {
      await coordinator.close();
    }
    const strict = await startTinyCoordinator({ runId: 'strict', minSites: 2, access: { store, requireTokens: true } });
    try {
      const { answer } = await tryJoin(strict.url!, 'anyone');
      expect(answer.payload).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(/unknown site|token required/) });
    } finally {
      await strict.close();
      store.close();
    }
  });
});
