/**
 * Lets timers and I/O run. Training is a long chain of promise continuations (microtasks), which would
 * otherwise starve sockets — heartbeats, reconnects and other in-process sites — for a whole local epoch.
 *
 * One waiter is resumed per turn of the event loop: the yields of every site in the process wait in one queue,
 * and a single `setImmediate` resumes the first, then schedules itself for the next turn. (A `setImmediate` per
 * waiter would resume them all in the same check phase — eight sites of a simulation each inspecting and
 * preparing their model back to back, with no socket read or timer in between.) With one waiter — a site
 * alone in its process — it is one `setImmediate`, as before.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

const schedule: (run: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (run) => void globalThis.setImmediate(run) : (run) => void setTimeout(run, 0);

function resumeOne(): void {
  const next = waiting.shift();
  if (waiting.length > 0) schedule(resumeOne);
  else scheduled = false;
  next?.();
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      schedule(resumeOne);
    }
  });
}
