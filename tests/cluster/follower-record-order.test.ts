import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { siteName, type ClientConnector, type CoordinatorLink } from '@fedtune/shared';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

/** A site whose links send every update twice, the second copy at once behind the first. */
function doubleSending(connector: ClientConnector): ClientConnector {
  return {
    ...connector,
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link) as (event: string, payload: unknown) => void;
      (link as { send: (event: string, payload: unknown) => void }).send = (event, payload) => {
        send(event, payload);
        if (event === 'fitResult') send(event, payload);
      };
      return link as CoordinatorLink;
    },
  };
}

/**
 * A follower's acceptance records go to the leader before anything a site sends after its folded update. Before,
 * a site on a follower that sent its update twice had the second copy relayed at once, ahead of the first one's
 * record (which waits ~5 ms in its batch): the leader took the copy, refused the record as a duplicate, and left
 * out the follower's whole partial — every other site of that node — in most rounds (found by an attacker's
 * review; with --quorum 0.8 the run aborted).
 */
describe.runIf(clusterDescribeMode() === 'run')('a follower\'s records and a site\'s later messages (real nodes, real Redis)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('a site on the follower sending every update twice costs nobody else their round: every round accepts all 6 sites once', async () => {
    // Sites k = 1, 3, 5 connect to node-2 (a follower once node-1 leads); site k = 1 sends every update twice.
    const evil = siteName(1);
    const fed = await startClusterFederation({
      redisUrl: redis.url, nodes: 2, sites: 6, rounds: 4, seed: 53, prefix: 'record-order', maxSiteExamples: 40, holdoutExamples: 100,
      config: { quorum: 1 },
      wrapConnector: (siteId, connector) => (siteId === evil ? doubleSending(connector) : connector),
    });
    try {
      const outcomes = await Promise.all(fed.nodes.map((n) => n.done));
      const led = outcomes.find((o) => o.report)!;
      const report = led.report!;
      expect(report.status, report.aborted).toBe('complete');
      for (const round of report.rounds) {
        expect(round.accepted.map((a) => a.siteId).sort(), `round ${round.round}`).toEqual(Array.from({ length: 6 }, (_, k) => siteName(k)).sort());
        expect(round.failed, `round ${round.round}`).toEqual([]);
      }
      expect(fed.logs.join('\n')).not.toMatch(/left out \d+ site\(s\) of node/);
      // The follower did fold its sites' updates (the path under test), and the leader refused the copies.
      const follower = fed.nodes.find((n) => n.nodeId !== led.leader)!;
      expect(follower.transport.relayedTotal).toBeGreaterThan(0);
    } finally {
      await fed.close();
    }
  }, 300_000);
});
