import { describe, expect, it } from 'vitest';
import { FIRE_AND_FORGET_COMMANDS, guardAdapterRedisClient } from '../../coordinator/src/cluster/adapter-redis-client.ts';

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
