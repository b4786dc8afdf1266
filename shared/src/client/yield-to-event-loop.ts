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

/** The timer functions `macrotaskScheduler` may use (the global ones by default; tests pass their own). */
export interface MacrotaskHost {
  setImmediate?: (run: () => void) => unknown;
  MessageChannel?: typeof MessageChannel;
  setTimeout: (run: () => void, ms: number) => unknown;
}

/**
 * How to run a function at the next turn of the event loop: `setImmediate` in Node; in a browser a message on a
 * MessageChannel — `setTimeout(0)` is clamped to ≥ 4 ms once timers nest five deep (HTML's timer nesting), so
 * a yield after each ~1 ms training batch would leave a tab's fit idle most of the time; a message is a task of its
 * own (rendering, sockets and timers run between) without the clamp; `setTimeout(0)` only where neither exists.
 */
export function macrotaskScheduler(host: MacrotaskHost = globalThis as unknown as MacrotaskHost): (run: () => void) => void {
  if (typeof host.setImmediate === 'function') {
    const setImmediate = host.setImmediate;
    return (run) => void setImmediate(run);
  }
  if (typeof host.MessageChannel === 'function') {
    const channel = new host.MessageChannel();
    const runs: Array<() => void> = [];
    channel.port1.onmessage = () => runs.shift()?.();
    // Node's ports would keep a process alive; a browser's have no unref.
    (channel.port1 as { unref?: () => void }).unref?.();
    return (run) => {
      runs.push(run);
      channel.port2.postMessage(null);
    };
  }
  return (run) => void host.setTimeout(run, 0);
}

const schedule = macrotaskScheduler();

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

/**
 * The next turn of the event loop, for one long computation alone (a robustness evaluation between its parts):
 * `macrotaskScheduler`'s turn, without the shared queue of `yieldToEventLoop` (whose one-waiter-per-turn order is
 * for sites sharing a process). Unlike `setTimeout(0)` it costs no 1 ms minimum in Node and no 4 ms clamp in a
 * browser.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => schedule(resolve));
}
