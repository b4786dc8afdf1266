import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClusterRedis, SiteTokenStore } from '@fedtune/coordinator';
import { siteName } from '@fedtune/shared';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { tempDir } from '../helpers/federation.ts';
import { tryJoin } from '../access/helpers.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SECRET = Buffer.from('the-cluster-secret-of-the-token-test-0123456789');

/**
 * A site's token never crosses Redis: a follower checks it against the shared registry and relays its verdict
 * with the hello. Before, the follower relayed the hello with its token; whoever could read the Redis stream —
 * even with a cluster secret, which authenticates and does not encrypt — took it and joined as the site
 * (replacing the real one: an authenticated hello takes a live name).
 */
describe.runIf(clusterDescribeMode() === 'run')('site tokens on a cluster (real nodes, real Redis)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('4 sites with tokens complete a run on 2 nodes with a secret; no token is in anything written to Redis; a bad token through the follower is refused', async () => {
    const runsDir = tempDir('fedtune-cluster-tokens-');
    const store = new SiteTokenStore(join(runsDir, 'fedtune.db'));
    const tokens = new Map(Array.from({ length: 4 }, (_, k) => [siteName(k), store.add(siteName(k))]));
    // Everything that crosses Redis: the stream's entries and every command the nodes send (MONITOR).
    const monitor = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
    const seen: string[] = [];
    await monitor.monitor((line: string) => seen.push(line));
    const fed = await startClusterFederation({
      redisUrl: redis.url, nodes: 2, sites: 4, rounds: 2, seed: 47, prefix: 'tokens', maxSiteExamples: 40, holdoutExamples: 100, runsDir,
      secret: () => SECRET, access: { store }, siteOptions: (siteId) => ({ token: tokens.get(siteId) }),
    });
    try {
      const follower = fed.nodes.find((n) => !n.transport.isLeading) ?? fed.nodes[1];
      const bad = await tryJoin(follower.url!, siteName(1), 'not-the-token');
      expect(bad.answer).toMatchObject({ event: 'rejected', payload: { code: 'unauthorized' } });
      bad.site.link.close();
      const outcomes = await Promise.all(fed.nodes.map((n) => n.done));
      const led = outcomes.find((o) => o.report)!;
      expect(led.report!.rounds.map((r) => r.accepted.length)).toEqual([4, 4]);
      expect((await Promise.all(fed.siteRuns)).filter((s) => s.completed)).toHaveLength(4);
      // Sites were relayed by the follower (so their hellos crossed Redis), and Redis saw none of their tokens.
      expect(fed.nodes.reduce((n, node) => n + node.transport.relayedTotal, 0)).toBeGreaterThan(0);
      const traffic = seen.join('\n');
      expect(traffic).toContain('fedtune:relay');
      for (const token of [...tokens.values(), 'not-the-token']) expect(traffic).not.toContain(token);
    } finally {
      await monitor.close().catch(() => undefined);
      await fed.close();
      store.close();
    }
  }, 300_000);
});
