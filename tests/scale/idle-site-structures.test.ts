import { afterEach, describe, expect, it, vi } from 'vitest';
import { SiteRegistry, SortedSiteIds } from '@fedtune/coordinator';
import { INTERNED_LIMIT, internRunTerms, PROTOCOL_VERSION, runTermsHash, SeededRandom, SharedTicker, sharedTicker, SiteTermsGuard, type Hello, type RunTerms, type SiteLink } from '@fedtune/shared';
import { policy, signed, terms } from '../policy/terms-fixture.ts';

/** The per-process structures that keep an idle site cheap (docs/performance.md, "Idle sites"). */

function deepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

describe('interned run terms: one frozen copy per verified hash, per process', () => {
  it('two sites accepting the same signed terms hold the same deep-frozen object, not the one that arrived', () => {
    const t = terms((x) => (x.rounds = 7));
    const a = new SiteTermsGuard(policy());
    const b = new SiteTermsGuard(policy());
    // Each site gets its own copy off the wire (as the memory network and socket.io deliver them).
    const first = signed(structuredClone(t));
    const second = signed(structuredClone(t));
    expect(a.onTerms(first, 'run-1')).toMatchObject({ accept: true });
    expect(b.onTerms(second, 'run-1')).toMatchObject({ accept: true });
    expect(a.terms).toBe(b.terms);
    expect(a.terms).not.toBe(first.terms);
    expect(a.terms).toEqual(t);
    expect(deepFrozen(a.terms)).toBe(true);
    // What arrived is left as it was (the shared copy is a clone).
    expect(Object.isFrozen(first.terms)).toBe(false);
    expect(() => {
      (a.terms as { rounds: number }).rounds = 99;
    }).toThrow(TypeError);
    expect(() => {
      (a.terms!.train as { epochs: number }).epochs = 99;
    }).toThrow(TypeError);
    expect(b.terms!.rounds).toBe(7);
  });

  it('terms that do not match their hash are refused before interning; other terms get their own copy; each site still checks its instructions', () => {
    const base = terms((x) => (x.rounds = 8));
    const good = signed(base);
    const accepted = new SiteTermsGuard(policy());
    expect(accepted.onTerms(good, 'run-1')).toMatchObject({ accept: true });
    // The same hash over other content (a coordinator lying to a second site) is refused: no shared copy reaches it.
    const liar = new SiteTermsGuard(policy());
    const forged = { ...good, terms: { ...base, rounds: 2 } as RunTerms };
    expect(liar.onTerms(forged, 'run-1')).toMatchObject({ accept: false, reason: expect.stringMatching(/do not match their hash/) });
    expect(liar.terms).toBeUndefined();
    expect(accepted.terms!.rounds).toBe(8);
    const other = new SiteTermsGuard(policy());
    expect(other.onTerms(signed(terms((x) => (x.rounds = 9))), 'run-1')).toMatchObject({ accept: true });
    expect(other.terms).not.toBe(accepted.terms);
    expect(other.terms!.rounds).toBe(9);
  });

  it(`keeps at most ${INTERNED_LIMIT} hashes: the oldest is dropped first, a kept one is returned as is`, () => {
    const make = (rounds: number) => terms((x) => (x.rounds = 100 + rounds));
    const first = make(0);
    const kept = internRunTerms(runTermsHash(first), first);
    expect(internRunTerms(runTermsHash(first), structuredClone(first))).toBe(kept);
    for (let i = 1; i < INTERNED_LIMIT; i++) internRunTerms(runTermsHash(make(i)), make(i));
    // 16 held: the first is still there.
    expect(internRunTerms(runTermsHash(first), first)).toBe(kept);
    // One more pushes out the oldest (the first interned, whose use above did not refresh it).
    internRunTerms(runTermsHash(make(INTERNED_LIMIT)), make(INTERNED_LIMIT));
    const again = internRunTerms(runTermsHash(first), first);
    expect(again).not.toBe(kept);
    expect(again).toEqual(kept);
  });
});

describe('SharedTicker: one timer for every site of a process', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every registered task once per period, keeps going past a task that throws, and stops the timer with the last task', () => {
    vi.useFakeTimers();
    const emptied = vi.fn();
    const ticker = new SharedTicker(1000, emptied);
    const runs = { a: 0, b: 0 };
    const removeA = ticker.add(() => runs.a++);
    const removeThrowing = ticker.add(() => {
      throw new Error('a broken link');
    });
    const removeB = ticker.add(() => runs.b++);
    expect(ticker.size).toBe(3);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(runs).toEqual({ a: 0, b: 0 });
    vi.advanceTimersByTime(1);
    expect(runs).toEqual({ a: 1, b: 1 });
    vi.advanceTimersByTime(3000);
    expect(runs).toEqual({ a: 4, b: 4 });
    removeA();
    removeA(); // idempotent: b is not removed by it
    expect(ticker.size).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(runs).toEqual({ a: 4, b: 5 });
    removeThrowing();
    expect(emptied).not.toHaveBeenCalled();
    removeB();
    expect(ticker.size).toBe(0);
    expect(emptied).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
    // A new task starts a timer again.
    ticker.add(() => runs.a++);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(runs.a).toBe(5);
  });

  it('sharedTicker: one ticker per period while it has tasks, a fresh one after it emptied', () => {
    vi.useFakeTimers();
    const t1 = sharedTicker(1234);
    const remove = t1.add(() => {});
    expect(sharedTicker(1234)).toBe(t1);
    expect(sharedTicker(4321)).not.toBe(t1);
    expect(sharedTicker(4321).periodMs).toBe(4321);
    remove();
    const t2 = sharedTicker(1234);
    expect(t2).not.toBe(t1);
    expect(t2.periodMs).toBe(1234);
  });
});

describe('SortedSiteIds and SiteRegistry.ids(): canonical order kept on join and leave, as a sort would give', () => {
  it('add/delete/has report what changed, at the boundaries', () => {
    const ids = new SortedSiteIds();
    expect(ids.delete('a')).toBe(false);
    expect(ids.has('a')).toBe(false);
    for (const [id, added] of [['m', true], ['a', true], ['z', true], ['m', false], ['B', true], ['10', true], ['9', true], ['é', true], ['a', false]] as const) {
      expect(ids.add(id)).toBe(added);
    }
    expect(ids.toArray()).toEqual(['10', '9', 'B', 'a', 'm', 'z', 'é']);
    expect(ids.size).toBe(7);
    expect(ids.has('z')).toBe(true);
    expect(ids.has('zz')).toBe(false);
    expect(ids.delete('10')).toBe(true); // first
    expect(ids.delete('é')).toBe(true); // last
    expect(ids.delete('b')).toBe(false);
    expect(ids.delete('10')).toBe(false);
    expect(ids.toArray()).toEqual(['9', 'B', 'a', 'm', 'z']);
    // A copy: changing it changes nothing held.
    ids.toArray().pop();
    expect(ids.size).toBe(5);
  });

  it('after 3,000 seeded joins, leaves, acceptances and name takeovers, ids() is exactly the sorted joined ids', () => {
    const hello = (siteId: string): Hello => ({ protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 10 } });
    const registry = new SiteRegistry();
    const rng = new SeededRandom(5);
    const links: SiteLink[] = [];
    for (let step = 0; step < 3000; step++) {
      const op = rng.int(4);
      if (op <= 1 || links.length === 0) {
        const siteId = `site-${rng.int(400)}`;
        const link = { id: `l${step}`, closed: false } as unknown as SiteLink;
        links.push(link);
        registry.join(link, hello(siteId), op === 1);
      } else if (op === 2) {
        const link = links.splice(rng.int(links.length), 1)[0];
        registry.leave(link);
      } else {
        const state = registry.ofLink(links[rng.int(links.length)]);
        if (state) state.termsAccepted = !state.termsAccepted;
      }
      if (step % 100 === 0 || step === 2999) {
        const expected = links.map((l) => registry.ofLink(l)!).filter((s) => registry.get(s.siteId) === s && s.termsAccepted).map((s) => s.siteId).sort();
        expect(registry.ids()).toEqual(expected);
        expect(registry.size).toBe(expected.length);
        expect(registry.all().map((s) => s.siteId)).toEqual(expected);
      }
    }
    expect(registry.size).toBeGreaterThan(50);
  });
});
