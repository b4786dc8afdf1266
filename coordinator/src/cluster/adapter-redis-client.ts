/** The commands the socket.io streams adapter sends without awaiting them (server-side emits, sessions). */
export const FIRE_AND_FORGET_COMMANDS = ['publish', 'sPublish', 'PUBLISH', 'SPUBLISH'] as const;

type Command = (...args: unknown[]) => unknown;

/**
 * Makes a Redis client fit for @socket.io/redis-streams-adapter: the adapter sends server-side emits with
 * PUBLISH and never awaits nor catches the promise, so while Redis is down (restarted, say) each one
 * rejects unhandled ("Socket closed unexpectedly") — which ends a process. Here every such command's
 * promise gets a handler that tells `onLost` (a message to the other nodes was lost in the outage); the
 * promise is returned as it was, so a caller that awaits it still sees the rejection. Returns the client.
 */
export function guardAdapterRedisClient<T extends object>(client: T, onLost: (command: string, error: unknown) => void): T {
  const target = client as unknown as Record<string, unknown>;
  for (const name of FIRE_AND_FORGET_COMMANDS) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    const guarded: Command = function (this: unknown, ...args: unknown[]) {
      const result = (original as Command).apply(this ?? client, args);
      if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch((err: unknown) => onLost(name, err));
      return result;
    };
    target[name] = guarded;
  }
  return client;
}
