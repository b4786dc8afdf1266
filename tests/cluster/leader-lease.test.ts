import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectClusterRedis, LeaderLease, type ClusterRedis, type LeaderLeaseOptions } from '@fedtune/coordinator';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';


describe.runIf(clusterDescribeMode() === 'run')('the leader lease on a real Redis', () => {
  let redis: RedisServer;
  let client: ClusterRedis;
  let clock = 1_000_000;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await client?.close();
    await redis?.kill();
  });
  beforeEach(async () => {
    await client.flushAll();
    clock = 1_000_000;
  });

  function lease(nodeId: string, extra: Partial<LeaderLeaseOptions> = {}) {
    const seen: string[] = [];
    const l = new LeaderLease({
      redis: client,
      prefix: 'p',
      nodeId,
      ttlMs: 5_000,
      onAcquired: (t) => seen.push(`acquired ${t}`),
      onReestablished: (t) => seen.push(`reestablished ${t}`),
      onRenewed: (t) => seen.push(`renewed ${t}`),
      onLost: (t) => seen.push(`lost ${t}`),
      now: () => clock,
      ...extra,
    });
    return { l, seen };
  }

  it('one node takes it with fencing token 1; a second does not while it is held; the time to live is set', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.l.tick();
    await b.l.tick();
    expect(a.seen).toEqual(['acquired 1']);
    expect(b.seen).toEqual([]);
    expect(a.l.isLeader).toBe(true);
    expect(a.l.leaderToken).toBe(1);
    expect(b.l.isLeader).toBe(false);
    expect(await client.get('p:leader')).toBe('a:1');
    const ttl = await client.pTTL('p:leader');
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('onFollowing: told to the node whose attempt finds the lease held (at every such attempt), never to the holder', async () => {
    const a = lease('a', { onFollowing: () => a.seen.push('following') });
    const b = lease('b', { onFollowing: () => b.seen.push('following') });
    await a.l.tick();
    await b.l.tick();
    await a.l.tick();
    await b.l.tick();
    expect(a.seen).toEqual(['acquired 1', 'renewed 1']);
    expect(b.seen).toEqual(['following', 'following']);
  });

  it('renewing keeps it and resets its time to live; onRenewed says so (the leader\'s "still leads" after an outage)', async () => {
    const a = lease('a');
    await a.l.tick();
    await client.pExpire('p:leader', 1_000);
    await a.l.tick();
    expect(a.seen).toEqual(['acquired 1', 'renewed 1']);
    expect(await client.pTTL('p:leader')).toBeGreaterThan(4_000);
  });

  it('after Redis lost everything, the leader re-establishes its lease and the fence, so the next token is higher', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.l.tick(); // token 1
    await client.flushAll();
    await a.l.tick();
    expect(a.seen).toEqual(['acquired 1', 'reestablished 1']);
    expect(await client.get('p:leader')).toBe('a:1');
    expect(await client.get('p:fence')).toBe('1');
    await a.l.stop(true);
    await b.l.tick();
    expect(b.seen).toEqual(['acquired 2']);
  });

  it.each([
    ['another node holds the lease', async () => void (await client.set('p:leader', 'b:7'))],
    ['the lease is gone and a later token was handed out', async () => {
      await client.del('p:leader');
      await client.set('p:fence', '9');
    }],
  ])('the leader loses it when %s', async (_name, change) => {
    const a = lease('a');
    await a.l.tick();
    await change();
    await a.l.tick();
    expect(a.seen).toEqual(['acquired 1', 'lost 1']);
    expect(a.l.isLeader).toBe(false);
    expect(a.l.leaderToken).toBe(0);
  });

  it('yieldTo: a leader hearing of a later token steps down at once (onLost once); an equal or lower token, or a follower, changes nothing', async () => {
    const a = lease('a');
    await a.l.tick();
    await client.del('p:leader');
    const b = lease('b');
    await b.l.tick();
    expect(b.seen).toEqual(['acquired 2']);
    // Not later than its own: nothing.
    expect(a.l.yieldTo(1)).toBe(false);
    expect(a.l.yieldTo(0)).toBe(false);
    expect(a.seen).toEqual(['acquired 1']);
    expect(a.l.leaderToken).toBe(1);
    // The next token: steps down now.
    expect(a.l.yieldTo(2)).toBe(true);
    expect(a.seen).toEqual(['acquired 1', 'lost 1']);
    expect(a.l.isLeader).toBe(false);
    expect(a.l.leaderToken).toBe(0);
    // Once only; a follower does not yield.
    expect(a.l.yieldTo(3)).toBe(false);
    expect(b.l.yieldTo(1)).toBe(false);
    expect(b.l.yieldTo(2)).toBe(false);
    expect(b.l.isLeader).toBe(true);
    expect(a.seen).toEqual(['acquired 1', 'lost 1']);
    // Its next tick tries to take the lease (held by b): it stays a follower, b's lease untouched.
    await a.l.tick();
    expect(a.seen).toEqual(['acquired 1', 'lost 1']);
    expect(await client.get('p:leader')).toBe('b:2');
  });

  it('stop(true) gives the lease up (another node takes it at once); stop(false) and a follower stop leave it', async () => {
    const a = lease('a');
    await a.l.tick();
    await a.l.stop(false);
    expect(await client.get('p:leader')).toBe('a:1');
    const a2 = lease('a2');
    await a2.l.stop(true);
    expect(await client.get('p:leader')).toBe('a:1');
    await a.l.tick();
    await client.set('p:leader', 'a:1');
    const again = lease('a');
    await again.l.tick();
    expect(again.seen).toEqual([]);
  });

  it('release deletes only its own lease', async () => {
    const a = lease('a');
    await a.l.tick();
    await client.set('p:leader', 'b:5');
    await a.l.stop(true);
    expect(await client.get('p:leader')).toBe('b:5');
  });

  it('a follower waits one lease time after Redis comes back before it tries to take the lease', async () => {
    const b = lease('b');
    b.l.redisRestored();
    await b.l.tick();
    expect(b.seen).toEqual([]);
    clock += 4_999;
    await b.l.tick();
    expect(b.seen).toEqual([]);
    clock += 1;
    await b.l.tick();
    expect(b.seen).toEqual(['acquired 1']);
  });

  it('a leader is not delayed by redisRestored, and nothing is tried while Redis is not ready', async () => {
    const a = lease('a');
    await a.l.tick();
    a.l.redisRestored();
    await client.del('p:leader');
    await a.l.tick();
    expect(a.seen).toEqual(['acquired 1', 'reestablished 1']);
    const down = lease('c', { redis: { isReady: false, eval: () => Promise.reject(new Error('never called')) } });
    await down.l.tick();
    expect(down.seen).toEqual([]);
  });

  it('a Redis error leaves a leader leading (nobody else can take the lease either)', async () => {
    let fail = false;
    const flaky = { get isReady() { return true; }, eval: (s: string, o: { keys: string[]; arguments: string[] }) => (fail ? Promise.reject(new Error('down')) : client.eval(s, o)) };
    const a = lease('a', { redis: flaky });
    await a.l.tick();
    fail = true;
    await a.l.tick();
    expect(a.seen).toEqual(['acquired 1']);
    expect(a.l.isLeader).toBe(true);
  });
});
