/**
 * Lets timers and I/O run. Training is a long chain of promise continuations (microtasks), which would
 * otherwise starve sockets — heartbeats, reconnects and other in-process sites — for a whole local epoch.
 */
export const yieldToEventLoop: () => Promise<void> =
  typeof globalThis.setImmediate === 'function'
    ? () => new Promise((resolve) => globalThis.setImmediate(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));
