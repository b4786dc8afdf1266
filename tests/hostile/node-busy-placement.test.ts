import { describe, expect, it } from 'vitest';
import { deriveSeed, failoverConnector, MemoryNetwork, PROTOCOL_VERSION, SiteClient, socketIoConnector, splitDataset, type Hello, type SiteEvent } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTinyCoordinator, tinyData } from '../access/helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/**
 * `node_busy` (a cluster node above its share of the sites: coordinator/src/cluster/site-placement.ts) end to end
 * over real socket.io, with two independent coordinators standing in for two nodes: the engine asks its
 * `placeSite` hook for every hello but sends on only a hello that offers alternatives; a site sent on connects to the next node of its
 * list at once (not a failure, no backoff); the hello's alternatives count down, so a site is never sent on
 * for ever, whatever the nodes say.
 */
async function site(connector: ConstructorParameters<typeof SiteClient>[0]['connector'], siteId: string, retries = 0) {
  const backend = await selectNodeBackend();
  const events: SiteEvent[] = [];
  const client = new SiteClient({
    policy: testSitePolicy(),
    siteId,
    connector,
    data: splitDataset(tinyData(60, 3), deriveSeed(1, 'split', siteId)),
    backend: backend.backend,
    runtime: 'node',
    heartbeatMs: 200,
    reconnect: { retries, baseDelayMs: 100, maxDelayMs: 200 },
    onEvent: (e) => events.push(e),
  });
  return { events, run: client.run() };
}

describe('node_busy: a site sent on by a cluster node', () => {
  it('is sent on by the busy node and joins the next one of its list at once; each node saw the alternatives left', async () => {
    const asked: Array<[string, number | undefined]> = [];
    const busy = await startTinyCoordinator({ runId: 'busy', placeSite: (hello: Hello) => (asked.push(['busy', hello.capabilities.alternatives]), { ok: false, reason: 'node busy holds more than its share' }) });
    const free = await startTinyCoordinator({ runId: 'free', placeSite: (hello: Hello) => (asked.push(['free', hello.capabilities.alternatives]), { ok: true }) });
    try {
      const s = await site(failoverConnector([socketIoConnector({ url: busy.url! }), socketIoConnector({ url: free.url! })]), 'site-a');
      const outcome = await s.run;
      expect(outcome.completed).toBe(true);
      expect(outcome.runId).toBe('free');
      // The busy node was asked with one alternative left; the free one with none (it may not send the site on).
      expect(asked).toEqual([['busy', 1], ['free', undefined]]);
      expect(s.events).toContainEqual(expect.objectContaining({ type: 'rejected', code: 'node_busy', reason: 'node busy holds more than its share' }));
      expect(s.events).toContainEqual(expect.objectContaining({ type: 'reconnecting', delayMs: 0 }));
      expect((await free.done).rounds[0].accepted.map((u) => u.siteId)).toEqual(['site-a']);
      expect(busy.engine.sites.size).toBe(0);
    } finally {
      await Promise.all([busy.close(), free.close()]);
    }
  });

  it('a site that offers no other node (one URL) is never sent on, whatever the hook says: it joins where it is', async () => {
    let asked = 0;
    const only = await startTinyCoordinator({ runId: 'only', placeSite: () => (asked++, { ok: false, reason: 'busy' }) });
    try {
      const s = await site(socketIoConnector({ url: only.url! }), 'site-a');
      expect((await s.run).completed).toBe(true);
      expect(asked).toBe(1);
      expect(s.events.some((e) => e.type === 'rejected')).toBe(false);
    } finally {
      await only.close();
    }
  });

  it('two nodes that both say busy: the second hello offers no alternative, so the site joins the second node', async () => {
    const asked: string[] = [];
    const a = await startTinyCoordinator({ runId: 'a', placeSite: () => (asked.push('a'), { ok: false, reason: 'busy' }) });
    const b = await startTinyCoordinator({ runId: 'b', placeSite: () => (asked.push('b'), { ok: false, reason: 'busy' }) });
    try {
      const s = await site(failoverConnector([socketIoConnector({ url: a.url! }), socketIoConnector({ url: b.url! })]), 'site-a');
      const outcome = await s.run;
      expect(outcome.completed).toBe(true);
      expect(outcome.runId).toBe('b');
      expect(asked).toEqual(['a', 'b']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a coordinator that answers node_busy to a hello offering no alternative is a refusal like any other: backoff and the retry budget, no tight loop', async () => {
    const network = new MemoryNetwork();
    let hellos = 0;
    network.serverTransport().onConnection((link) => {
      link.onMessage((m) => {
        if (m.event !== 'hello') return;
        hellos++;
        link.send('rejected', { code: 'node_busy', reason: 'go elsewhere' });
        link.close();
      });
    });
    const s = await site(network.connector(), 'site-a', 2);
    const outcome = await s.run;
    expect(outcome.completed).toBe(false);
    expect(hellos).toBe(3);
    const waits = s.events.filter((e): e is Extract<SiteEvent, { type: 'reconnecting' }> => e.type === 'reconnecting').map((e) => e.delayMs);
    expect(waits).toEqual([100, 200]);
  });

  it('a hello whose alternatives are out of range is refused by its schema', async () => {
    const { Hello: HelloSchema } = await import('@fedtune/shared');
    const hello = { protocol: PROTOCOL_VERSION, siteId: 's', capabilities: { backend: 'cpu', runtime: 'node', numExamples: 1 } };
    expect(HelloSchema.safeParse({ ...hello, capabilities: { ...hello.capabilities, alternatives: 2 } }).success).toBe(true);
    for (const alternatives of [-1, 1.5, 65, '2']) expect(HelloSchema.safeParse({ ...hello, capabilities: { ...hello.capabilities, alternatives } }).success).toBe(false);
  });
});
