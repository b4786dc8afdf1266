import { describe, expect, it } from 'vitest';
import { connectClusterRedis } from '@fedtune/coordinator';
import { FIRE_AND_FORGET_COMMANDS, guardAdapterRedisClient } from '../../coordinator/src/cluster/adapter-redis-client.ts';
import { clusterDescribeMode, startRedisServer } from '../helpers/redis-server.ts';

/** A client whose commands reject as node-redis does when Redis goes away mid-command. */
function closedClient() {
  const calls: Array<{ name: string; args: unknown[]; self: unknown }> = [];
  const client: Record<string, unknown> = { tag: 'client' };
  for (const name of [...FIRE_AND_FORGET_COMMANDS, 'get']) {
    client[name] = function (this: unknown, ...args: unknown[]) {
      calls.push({ name, args, self: this });
      return Promise.reject(new Error('Socket closed unexpectedly'));
    };
  }
  return { client, calls };
}

/** Runs `body`, then reports the unhandled rejections seen meanwhile. */
async function unhandledDuring(body: () => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    body();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

describe('guardAdapterRedisClient (the streams adapter\'s fire-and-forget PUBLISH during a Redis outage)', () => {
  it.each(FIRE_AND_FORGET_COMMANDS.map((name) => [name]))('%s: a rejection is handled (told to onLost, never unhandled); the call reaches the client with its arguments and this', async (name) => {
    const { client, calls } = closedClient();
    const lost: Array<{ command: string; message: string }> = [];
    const guarded = guardAdapterRedisClient(client, (command, err) => lost.push({ command, message: (err as Error).message }));
    expect(guarded).toBe(client);
    const unhandled = await unhandledDuring(() => {
      void (guarded[name] as (...a: unknown[]) => Promise<unknown>)('channel', Buffer.from('x'));
    });
    expect(unhandled).toEqual([]);
    expect(lost).toEqual([{ command: name, message: 'Socket closed unexpectedly' }]);
    expect(calls).toHaveLength(1);
    expect(calls[0].name).toBe(name);
    expect(calls[0].args).toEqual(['channel', Buffer.from('x')]);
    expect(calls[0].self).toBe(client);
  });

  it('the returned promise still rejects for a caller that awaits it; a resolved command is not told as lost', async () => {
    const { client } = closedClient();
    const lost: string[] = [];
    guardAdapterRedisClient(client, (command) => lost.push(command));
    await expect((client.publish as () => Promise<unknown>)()).rejects.toThrow('Socket closed unexpectedly');
    client.sPublish = () => Promise.resolve(1);
    guardAdapterRedisClient(client, (command) => lost.push(`again ${command}`));
    await expect((client.sPublish as () => Promise<unknown>)()).resolves.toBe(1);
    expect(lost).toEqual(['publish']);
  });

  it('other commands are left as they are (their callers await them), and a client without a command is fine', async () => {
    const { client } = closedClient();
    const get = client.get;
    guardAdapterRedisClient(client, () => undefined);
    expect(client.get).toBe(get);
    const bare: Record<string, unknown> = {};
    expect(() => guardAdapterRedisClient(bare, () => undefined)).not.toThrow();
    expect(Object.keys(bare)).toEqual([]);
  });

  it('without the guard the same rejection is unhandled (what ended the nodes when Redis restarted)', async () => {
    const { client } = closedClient();
    const unhandled = await unhandledDuring(() => {
      void (client.publish as () => Promise<unknown>)();
    });
    expect(unhandled).toHaveLength(1);
  });
});

describe('guardAdapterRedisClient: the clients the adapter duplicates (stream readers, the subscriber)', () => {
  /** A client whose duplicate() makes a client like itself; its subscribe rejects with `error`. */
  function duplicating(error: () => Error) {
    const made: Array<Record<string, unknown>> = [];
    const make = (): Record<string, unknown> => {
      const c: Record<string, unknown> = {
        publish: () => Promise.reject(new Error('Socket closed unexpectedly')),
        subscribe: () => Promise.reject(error()),
        duplicate: () => {
          const d = make();
          made.push(d);
          return d;
        },
      };
      return c;
    };
    return { client: make(), made };
  }
  const disconnects = () => Object.assign(new Error('Disconnects client'), { name: 'DisconnectsClientError' });

  it('a SUBSCRIBE pending when its client is disconnected on purpose: handled, and not told as a loss; on duplicates of duplicates too', async () => {
    const { client, made } = duplicating(disconnects);
    const lost: string[] = [];
    guardAdapterRedisClient(client, (command) => lost.push(command));
    const sub = (client.duplicate as () => Record<string, unknown>)();
    const subOfSub = (sub.duplicate as () => Record<string, unknown>)();
    expect(made).toEqual([sub, subOfSub]);
    const unhandled = await unhandledDuring(() => {
      void (client.subscribe as () => Promise<unknown>)();
      void (sub.subscribe as () => Promise<unknown>)();
      void (subOfSub.subscribe as () => Promise<unknown>)();
    });
    expect(unhandled).toEqual([]);
    expect(lost).toEqual([]);
    // An awaiting caller still sees the rejection.
    await expect((sub.subscribe as () => Promise<unknown>)()).rejects.toMatchObject({ name: 'DisconnectsClientError' });
  });

  it('any other SUBSCRIBE failure, and a duplicate\'s PUBLISH in an outage, are told as losses (and handled)', async () => {
    const { client } = duplicating(() => new Error('Socket closed unexpectedly'));
    const lost: string[] = [];
    guardAdapterRedisClient(client, (command) => lost.push(command));
    const sub = (client.duplicate as () => Record<string, unknown>)();
    const unhandled = await unhandledDuring(() => {
      void (sub.subscribe as () => Promise<unknown>)();
      void (sub.publish as () => Promise<unknown>)();
    });
    expect(unhandled).toEqual([]);
    expect(lost).toEqual(['subscribe', 'publish']);
  });

  it('without the guard, the pending SUBSCRIBE of a disconnected duplicate is unhandled (what ended a test worker)', async () => {
    const { client } = duplicating(disconnects);
    const sub = (client.duplicate as () => Record<string, unknown>)();
    const unhandled = await unhandledDuring(() => {
      void (sub.subscribe as () => Promise<unknown>)();
    });
    expect(unhandled).toHaveLength(1);
  });
});

describe.runIf(clusterDescribeMode() === 'run')('guardAdapterRedisClient with a real node-redis client and redis-server', () => {
  it('SUBSCRIBE sent on a duplicate, then the duplicate disconnected at once: no unhandled rejection with the guard', async () => {
    const redis = await startRedisServer();
    const client = await connectClusterRedis(redis.url, { onLost: () => undefined, onRestored: () => undefined });
    try {
      guardAdapterRedisClient(client, () => undefined);
      const sub = client.duplicate();
      sub.on('error', () => undefined);
      await sub.connect();
      const unhandled = await unhandledDuring(() => {
        void sub.subscribe('channel-of-a-closing-node', () => undefined);
        void sub.disconnect();
      });
      expect(unhandled).toEqual([]);
    } finally {
      await client.close().catch(() => undefined);
      await redis.kill();
    }
  });
});
