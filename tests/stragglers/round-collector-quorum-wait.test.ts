import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RoundCollector, type AcceptedUpdate } from '../../coordinator/src/engine/round-collector.ts';
import { UpdateGuard } from '../../coordinator/src/engine/update-guard.ts';

/**
 * stragglers.waitAfterQuorumMs at the collector: once `needed` updates are accepted, the round waits at most
 * `waitMs` more for the other selected sites, then closes (closedAfterQuorum). Fake timers: the deadlines are
 * exact, not timed.
 */

const update = (siteId: string, norm?: number): AcceptedUpdate => ({ siteId, weights: [], numExamples: 1, effectiveExamples: 1, ...(norm !== undefined ? { norm } : {}), metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1, bytes: 0 });

describe('RoundCollector.closeAfterQuorum', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  const state = (c: RoundCollector) => ({ closed: c.closed, closedAfterQuorum: c.closedAfterQuorum, timedOut: c.timedOut });

  it('closes waitMs after the quorum-th accepted update, not before, with the others still out', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c', 'd']), 60_000);
    c.closeAfterQuorum(2, 500);
    c.accept(update('a'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(state(c)).toEqual({ closed: false, closedAfterQuorum: false, timedOut: false });
    c.accept(update('b'));
    await vi.advanceTimersByTimeAsync(499);
    expect(c.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: true, timedOut: false });
    expect([...c.answered].sort()).toEqual(['a', 'b']);
  });

  it('refused and failed sites answer but do not count toward the quorum', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c', 'd']), 60_000);
    c.closeAfterQuorum(2, 100);
    c.accept(update('a'));
    c.reject({ siteId: 'b', code: 'malformed_payload', reason: 'x' });
    c.fail('c', 'disconnected');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(c.closed).toBe(false);
    c.accept(update('d'));
    // d was the last selected site: the round closes at once, as without the option.
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: false, timedOut: false });
  });

  it('a round whose sites all answer within the wait closes when they do, not after it', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    c.closeAfterQuorum(1, 1_000);
    c.accept(update('a'));
    await vi.advanceTimersByTimeAsync(200);
    c.accept(update('b'));
    c.accept(update('c'));
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: false, timedOut: false });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(c.closedAfterQuorum).toBe(false);
  });

  it('the round timeout still applies when the quorum never comes', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 3_000);
    c.closeAfterQuorum(2, 100);
    c.accept(update('a'));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(c.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: false, timedOut: true });
  });

  it('wait 0 closes on the quorum itself; a quorum already met when it is set starts the wait then', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    c.accept(update('a'));
    c.accept(update('b'));
    c.closeAfterQuorum(2, 0);
    expect(c.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: true, timedOut: false });
  });

  it('updates folded by a cluster follower count toward the quorum', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    c.closeAfterQuorum(2, 50);
    expect(c.acceptFolded(update('a'))).toBe(true);
    expect(c.acceptFolded(update('b'))).toBe(true);
    await vi.advanceTimersByTimeAsync(50);
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: true, timedOut: false });
  });

  it('a round closed before its quorum wait ends (its last site answered, or closed by the engine) is not marked closed after the quorum', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    c.closeAfterQuorum(1, 100);
    c.accept(update('a'));
    c.finish();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: false, timedOut: false });
    // Asked after the close: nothing starts.
    const d = new RoundCollector(1, new Set(['a', 'b']), 60_000);
    d.accept(update('a'));
    d.finish();
    d.closeAfterQuorum(1, 0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(d.closedAfterQuorum).toBe(false);
  });

  it('with `kept`, only the updates the close would keep count: outliers do not start the wait', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c', 'd', 'e']), 60_000);
    let kept = 0;
    c.closeAfterQuorum(2, 10, () => kept);
    c.accept(update('a'));
    c.accept(update('b'));
    c.accept(update('c'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.closed).toBe(false);
    kept = 2;
    c.accept(update('d'));
    await vi.advanceTimersByTimeAsync(10);
    expect(state(c)).toEqual({ closed: true, closedAfterQuorum: true, timedOut: false });
  });

  it('UpdateGuard.keptOf: what the norm bound keeps of the norms so far (huge updates after a tiny median are not kept)', () => {
    // The previous round's median 0.001: the stream bound is 5 × 0.001.
    const guard = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 0, previousMedianNorm: 0.001, announced: [] });
    expect(guard.keptOf([])).toBe(0);
    expect(guard.keptOf([update('a', 10), update('b', 10)])).toBe(0);
    // Three honest norms make the round's own median 1: bound 5; the two huge ones stay out.
    expect(guard.keptOf([update('a', 10), update('b', 10), update('c', 1), update('d', 1), update('e', 1)])).toBe(3);
    expect(guard.keptOf([update('a', 0.004), update('b', 0.005)])).toBe(2);
    // The bound off: every update is kept.
    expect(new UpdateGuard({ normBoundMultiple: 0, exampleWeightCap: 0, previousMedianNorm: 0.001, announced: [] }).keptOf([update('a', 10), update('b')])).toBe(2);
  });

  it('excuse: only a selected site that has not answered is excused', () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    c.accept(update('a'));
    c.excuse('a'); // answered
    c.excuse('z'); // not selected
    c.excuse('b');
    c.fail('c', 'disconnected');
    c.excuse('c'); // answered (failed)
    expect([...c.excused]).toEqual(['b']);
    c.finish();
  });

  it('a needed count below 1 is taken as 1', async () => {
    const c = new RoundCollector(1, new Set(['a', 'b']), 60_000);
    c.closeAfterQuorum(0, 10);
    await vi.advanceTimersByTimeAsync(100);
    expect(c.closed).toBe(false);
    c.accept(update('a'));
    await vi.advanceTimersByTimeAsync(10);
    expect(c.closedAfterQuorum).toBe(true);
  });
});
