import { describe, expect, it } from 'vitest';
import { CutSiteCooldowns, MAX_CUT_SITES } from '../../coordinator/src/engine/cut-site-cooldowns.ts';

describe('CutSiteCooldowns: names cut for too many refusals, until their cooldown ends', () => {
  it('a cut name waits the cooldown to the millisecond; other names never wait', () => {
    const c = new CutSiteCooldowns(30_000);
    c.cut('site-z', 1_000);
    expect(c.left('site-z', 1_000)).toBe(30_000);
    expect(c.left('site-z', 30_999)).toBe(1);
    expect(c.left('other', 1_000)).toBe(0);
    expect(c.size).toBe(1);
    // At the end of the cooldown exactly, the name may join (and is forgotten).
    expect(c.left('site-z', 31_000)).toBe(0);
    expect(c.size).toBe(0);
  });

  it('0 turns it off: nothing is remembered', () => {
    const c = new CutSiteCooldowns(0);
    c.cut('site-z', 5);
    expect(c.left('site-z', 5)).toBe(0);
    expect(c.size).toBe(0);
  });

  it('a second cut restarts the name’s cooldown', () => {
    const c = new CutSiteCooldowns(100);
    c.cut('a', 0);
    c.cut('a', 50);
    expect(c.left('a', 120)).toBe(30);
    expect(c.size).toBe(1);
  });

  it('a new cut drops the expired names, oldest first, and stops at the first still cooling', () => {
    const c = new CutSiteCooldowns(100);
    c.cut('a', 0);
    c.cut('b', 10);
    c.cut('c', 60);
    // At 105: a (until 100) has expired, b (until 110) has not; c after b is kept though it is cooling too.
    c.cut('d', 105);
    expect(c.size).toBe(3);
    expect([c.left('a', 105), c.left('b', 105), c.left('c', 105), c.left('d', 105)]).toEqual([0, 5, 55, 100]);
    // A cut exactly at an expiry drops that name (until = t has ended).
    c.cut('e', 110);
    expect(c.size).toBe(3);
    expect(c.left('b', 110)).toBe(0);
  });

  it('at most `max` names: past it the oldest still cooling are forgotten', () => {
    const c = new CutSiteCooldowns(1_000, 3);
    for (const [i, id] of ['a', 'b', 'c'].entries()) c.cut(id, i);
    expect(c.size).toBe(3);
    c.cut('d', 3);
    expect(c.size).toBe(3);
    expect([c.left('a', 3), c.left('b', 3), c.left('c', 3), c.left('d', 3)]).toEqual([0, 998, 999, 1_000]);
    c.cut('e', 4);
    c.cut('f', 5);
    expect(c.size).toBe(3);
    expect([c.left('d', 5), c.left('e', 5), c.left('f', 5)]).toEqual([998, 999, 1_000]);
  });

  it('the default bound is 10,000 names', () => {
    expect(MAX_CUT_SITES).toBe(10_000);
    const c = new CutSiteCooldowns(60_000);
    for (let i = 0; i <= MAX_CUT_SITES; i++) c.cut(`s${i}`, i);
    expect(c.size).toBe(MAX_CUT_SITES);
    expect(c.left('s0', MAX_CUT_SITES)).toBe(0);
    expect(c.left('s1', MAX_CUT_SITES)).toBe(60_000 + 1 - MAX_CUT_SITES);
  });
});
