/** The process events whose listeners decide whether an unexpected error ends the process. */
export const FATAL_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Runs `start` and removes every `uncaughtException` / `unhandledRejection` listener it added to Node's
 * `process` (in a browser, where there is none, it only runs `start`).
 *
 * Why: tfjs-backend-wasm 4.22 is an Emscripten module whose start in Node adds
 * `process.on('uncaughtException', (ex) => { throw ex })` and `process.on('unhandledRejection', (r) => { throw r })`.
 * A listener that throws is fatal (exit code 7): from then on any stray rejection or exception anywhere in the
 * process — the coordinator, a site, an application embedding fedtune, a test worker — ends it at once, past
 * the process's own handlers (the CLI's one-line error, a test runner's report naming the error). tfjs's
 * `_dispose` means to remove them, but its filter (`!list.indexOf(l) > -1`) is always true and it runs only when
 * the backend is disposed. Without them, Node's defaults and the process's own handlers apply.
 */
export async function dropProcessHandlersAddedBy<T>(start: () => Promise<T>): Promise<T> {
  const events = (globalThis as { process?: NodeJS.EventEmitter }).process;
  if (typeof events?.listeners !== 'function') return start();
  const before = new Map(FATAL_ERROR_EVENTS.map((event) => [event, new Set(events.listeners(event))]));
  try {
    return await start();
  } finally {
    for (const event of FATAL_ERROR_EVENTS) {
      const had = before.get(event)!;
      for (const listener of events.listeners(event)) {
        if (!had.has(listener)) events.off(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}
