/** The commands the socket.io streams adapter sends without awaiting them (server-side emits, sessions). */
export const FIRE_AND_FORGET_COMMANDS = ['publish', 'sPublish', 'PUBLISH', 'SPUBLISH'] as const;

/**
 * The commands it sends on the client it duplicates for its subscriptions, also without awaiting them: a
 * SUBSCRIBE still pending when that client is disconnected (a node closing soon after it started) rejects
 * with node-redis's DisconnectsClientError, unhandled — which ended a test worker (and would end a node with
 * a stack trace on shutdown).
 */
export const UNAWAITED_SUBSCRIBE_COMMANDS = ['subscribe', 'sSubscribe', 'SUBSCRIBE', 'SSUBSCRIBE'] as const;

type Command = (...args: unknown[]) => unknown;

/** node-redis's rejection of every queued command when its client is disconnected on purpose: not a loss. */
function isDeliberateDisconnect(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'DisconnectsClientError';
}

function handleRejections(client: object, names: readonly string[], onRejected: (command: string, error: unknown) => void): void {
  const target = client as unknown as Record<string, unknown>;
  for (const name of names) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    const guarded: Command = function (this: unknown, ...args: unknown[]) {
      const result = (original as Command).apply(this ?? client, args);
      if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch((err: unknown) => onRejected(name, err));
      return result;
    };
    target[name] = guarded;
  }
}

/**
 * Makes a Redis client fit for @socket.io/redis-streams-adapter: the adapter sends server-side emits with
 * PUBLISH and never awaits nor catches the promise, so while Redis is down (restarted, say) each one
 * rejects unhandled ("Socket closed unexpectedly") — which ends a process. Here every such command's
 * promise gets a handler that tells `onLost` (a message to the other nodes was lost in the outage); the
 * promise is returned as it was, so a caller that awaits it still sees the rejection. Returns the client.
 */
export function guardAdapterRedisClient<T extends object>(client: T, onLost: (command: string, error: unknown) => void): T {
  handleRejections(client, FIRE_AND_FORGET_COMMANDS, onLost);
  // The clients it duplicates (the stream readers, the subscriber) get the same guard, and their
  // subscriptions a handler: a deliberate disconnect is not a loss, anything else is told as one.
  handleRejections(client, UNAWAITED_SUBSCRIBE_COMMANDS, (command, err) => {
    if (!isDeliberateDisconnect(err)) onLost(command, err);
  });
  const target = client as unknown as Record<string, unknown>;
  const duplicate = target.duplicate;
  if (typeof duplicate === 'function') {
    target.duplicate = function (this: unknown, ...args: unknown[]) {
      const copy = (duplicate as Command).apply(this ?? client, args);
      return copy !== null && typeof copy === 'object' ? guardAdapterRedisClient(copy, onLost) : copy;
    };
  }
  return client;
}
