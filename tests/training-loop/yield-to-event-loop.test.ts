import { describe, expect, it, vi } from 'vitest';
import { macrotaskScheduler, nextTurn, yieldToEventLoop } from '@fedtune/shared';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('yieldToEventLoop: one waiter resumed per turn of the event loop', () => {
  it('sites sharing a process take turns with timers and I/O: a due timer runs between two sites\' work, not after all of them', async () => {
    const order: string[] = [];
    const sites = Array.from({ length: 4 }, (_, i) =>
      (async () => {
        await yieldToEventLoop();
        busy(3);
        order.push(`site-${i}`);
      })(),
    );
    setTimeout(() => order.push('timer'), 1);
    await Promise.all(sites);
    await new Promise((r) => setTimeout(r, 5));
    // One setImmediate per waiter would resume all four in one check phase: the timer last.
    expect(order.indexOf('timer')).toBeLessThan(order.indexOf('site-3'));
    expect(order.filter((x) => x.startsWith('site-'))).toEqual(['site-0', 'site-1', 'site-2', 'site-3']);
  });

  it('a waiter alone resumes at the next turn; waiters resume in the order they yielded, each once', async () => {
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      await yieldToEventLoop();
      order.push(i);
      await yieldToEventLoop();
      order.push(10 + i);
    }));
    expect(order).toEqual([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
    let resumed = false;
    const p = yieldToEventLoop().then(() => (resumed = true));
    expect(resumed).toBe(false);
    await p;
    expect(resumed).toBe(true);
  });
});

describe('macrotaskScheduler: the next turn of the event loop, without a browser\'s timer clamp', () => {
  it('Node: setImmediate, never a timer', () => {
    const setImmediate = vi.fn();
    const setTimeout = vi.fn();
    const run = () => {};
    macrotaskScheduler({ setImmediate, MessageChannel, setTimeout })(run);
    expect(setImmediate).toHaveBeenCalledWith(run);
    expect(setTimeout).not.toHaveBeenCalled();
  });

  it('a browser (no setImmediate): a message on a MessageChannel per run, in order, never a timer (setTimeout(0) is clamped to 4 ms once nested)', async () => {
    const setTimeout = vi.fn();
    const schedule = macrotaskScheduler({ MessageChannel, setTimeout });
    const order: number[] = [];
    // 20 nested reschedules: past HTML's nesting level 5, where setTimeout(0) would wait ≥ 4 ms each.
    await new Promise<void>((done) => {
      const next = (i: number) => () => {
        order.push(i);
        if (i < 20) schedule(next(i + 1));
        else done();
      };
      schedule(next(0));
    });
    expect(order).toEqual(Array.from({ length: 21 }, (_, i) => i));
    const both: string[] = [];
    await new Promise<void>((done) => {
      schedule(() => both.push('a'));
      schedule(() => {
        both.push('b');
        done();
      });
    });
    expect(both).toEqual(['a', 'b']);
    expect(setTimeout).not.toHaveBeenCalled();
  });

  it('neither: setTimeout(run, 0)', () => {
    const setTimeout = vi.fn();
    const run = () => {};
    macrotaskScheduler({ setTimeout })(run);
    expect(setTimeout).toHaveBeenCalledWith(run, 0);
  });
});

describe('nextTurn: the robustness evaluation\'s yield', () => {
  it('takes the scheduler\'s turn, not a timer (no 1 ms minimum in Node, no 4 ms clamp in a browser): it resolves while timers are frozen', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      let timerRan = false;
      setTimeout(() => (timerRan = true), 0);
      for (let i = 0; i < 10; i++) await nextTurn();
      expect(timerRan).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
