import { describe, expect, it } from 'vitest';
import { ClusterOptions, clusterKeys } from '@fedtune/coordinator';

const URL = 'redis://127.0.0.1:6379';

describe('ClusterOptions', () => {
  it('defaults: a random node id, prefix fedtune, a 10 s lease, 1 s heartbeats, 10 s node timeout, 100,000 remote sites, 10 s for a follower\'s evaluation', () => {
    const o = ClusterOptions.parse({ redisUrl: URL });
    expect(o.nodeId).toMatch(/^node-[0-9a-f]{6}$/);
    expect(o).toMatchObject({ prefix: 'fedtune', leaseTtlMs: 10_000, nodeHeartbeatMs: 1_000, nodeTimeoutMs: 10_000, maxRemoteSites: 100_000, evaluationTimeoutMs: 10_000, leaderWeight: 0.7 });
    expect(ClusterOptions.parse({ redisUrl: URL }).nodeId).not.toBe(o.nodeId);
  });

  it.each([
    [{ redisUrl: 'http://127.0.0.1:6379' }, /redis:\/\/HOST:PORT/],
    [{ redisUrl: 'redis://has space' }, /redis:\/\/HOST:PORT/],
    [{ redisUrl: URL, nodeId: '' }, /too_small|>=1|at least/i],
    [{ redisUrl: URL, nodeId: 'a/b' }, /node id may use/],
    [{ redisUrl: URL, nodeId: 'n'.repeat(65) }, /64/],
    [{ redisUrl: URL, prefix: 'a b' }, /Invalid|pattern|match/i],
    [{ redisUrl: URL, leaseTtlMs: 299 }, /300/],
    [{ redisUrl: URL, leaseTtlMs: 600_001 }, /600000/],
    [{ redisUrl: URL, nodeHeartbeatMs: 49 }, /50/],
    [{ redisUrl: URL, nodeTimeoutMs: 99 }, /100/],
    [{ redisUrl: URL, maxRemoteSites: 0 }, />=1|1/],
    [{ redisUrl: URL, evaluationTimeoutMs: -1 }, />=0/],
    [{ redisUrl: URL, evaluationTimeoutMs: 600_001 }, /600000/],
    [{ redisUrl: URL, evaluationTimeoutMs: 1.5 }, /int/i],
    [{ redisUrl: URL, leaderWeight: -0.1 }, />=0/],
    [{ redisUrl: URL, leaderWeight: 1.01 }, /<=1/],
    [{ redisUrl: URL, nodeHeartbeatMs: 1_000, nodeTimeoutMs: 1_000 }, /nodeTimeoutMs must exceed nodeHeartbeatMs/],
  ])('refuses %j', (input, message) => {
    const r = ClusterOptions.safeParse(input);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toMatch(message);
  });

  it('accepts the boundaries and rediss:// URLs', () => {
    expect(ClusterOptions.parse({ redisUrl: 'rediss://user:pw@h:1', nodeId: 'n'.repeat(64), leaseTtlMs: 300, nodeHeartbeatMs: 50, nodeTimeoutMs: 100, maxRemoteSites: 1 }).leaseTtlMs).toBe(300);
    expect(ClusterOptions.parse({ redisUrl: URL, evaluationTimeoutMs: 0 }).evaluationTimeoutMs).toBe(0);
    expect(ClusterOptions.parse({ redisUrl: URL, evaluationTimeoutMs: 600_000 }).evaluationTimeoutMs).toBe(600_000);
    expect(ClusterOptions.parse({ redisUrl: URL, leaderWeight: 0 }).leaderWeight).toBe(0);
    expect(ClusterOptions.parse({ redisUrl: URL, leaderWeight: 1 }).leaderWeight).toBe(1);
    expect(ClusterOptions.parse({ redisUrl: URL, nodeHeartbeatMs: 1_000, nodeTimeoutMs: 1_001 }).nodeTimeoutMs).toBe(1_001);
  });

  it('names every key and the stream under the prefix', () => {
    expect(clusterKeys('c1')).toEqual({ lease: 'c1:leader', fence: 'c1:fence', run: 'c1:run', stream: 'c1:socket.io' });
  });
});
