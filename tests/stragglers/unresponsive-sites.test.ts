import { describe, expect, it } from 'vitest';
import { UnresponsiveSites } from '../../coordinator/src/engine/unresponsive-sites.ts';

/** The rounds in `from..to` that `siteId` sits out. */
function sitsOut(u: UnresponsiveSites, siteId: string, from: number, to: number): number[] {
  const rounds: number[] = [];
  for (let r = from; r <= to; r++) if (u.cooling(siteId, r)) rounds.push(r);
  return rounds;
}

describe('UnresponsiveSites: cooldowns of sites that gave no answer', () => {
  it('a miss in round r sits out exactly rounds r+1 … r+2^(misses−1), capped at maxCooldownRounds', () => {
    const u = new UnresponsiveSites(8);
    expect(u.cooling('a', 1)).toBe(false);
    expect(u.missed('a', 3)).toBe(1);
    expect(sitsOut(u, 'a', 1, 10)).toEqual([3, 4]);
    expect(u.missed('a', 5)).toBe(2);
    expect(sitsOut(u, 'a', 5, 12)).toEqual([5, 6, 7]);
    expect(u.missed('a', 8)).toBe(4);
    expect(sitsOut(u, 'a', 8, 20)).toEqual([8, 9, 10, 11, 12]);
    expect(u.missed('a', 13)).toBe(8);
    // Capped: 16 would be next; 8 is the most.
    expect(u.missed('a', 22)).toBe(8);
    expect(sitsOut(u, 'a', 22, 40)).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30]);
    expect(u.misses('a')).toBe(5);
  });

  it('the cap applies from the first miss, and a huge number of misses never overflows', () => {
    const one = new UnresponsiveSites(1);
    for (let r = 1; r <= 200; r++) expect(one.missed('a', r)).toBe(1);
    const big = new UnresponsiveSites(1_000_000);
    let last = 0;
    for (let r = 1; r <= 100; r++) last = big.missed('a', r);
    expect(last).toBe(1_000_000);
  });

  it('an answer forgives every miss: the next miss cools for one round again', () => {
    const u = new UnresponsiveSites(8);
    u.missed('a', 1);
    u.missed('a', 3);
    u.missed('a', 6);
    u.answered('a');
    expect(u.misses('a')).toBe(0);
    expect(u.cooling('a', 7)).toBe(false);
    expect(u.missed('a', 10)).toBe(1);
    expect(sitsOut(u, 'a', 10, 14)).toEqual([10, 11]);
  });

  it('sites are independent', () => {
    const u = new UnresponsiveSites(8);
    u.missed('a', 1);
    u.missed('a', 3);
    u.missed('b', 3);
    expect(sitsOut(u, 'a', 3, 8)).toEqual([3, 4, 5]);
    expect(sitsOut(u, 'b', 3, 8)).toEqual([3, 4]);
    expect(u.cooling('c', 3)).toBe(false);
  });

  it('maxCooldownRounds 0 turns it off: nothing recorded, nobody sits out', () => {
    const u = new UnresponsiveSites(0);
    expect(u.missed('a', 1)).toBe(0);
    expect(u.cooling('a', 2)).toBe(false);
    expect(u.size).toBe(0);
    expect(u.eligible(['a', 'b'], 2)).toEqual({ ids: ['a', 'b'], cooling: [], busy: [] });
    u.cutOff('a', 1_000);
    expect(u.busy('a', 0)).toBe(false);
    expect(u.busyCount).toBe(0);
  });

  it('eligible leaves out the cooling sites in their order, but never every site', () => {
    const u = new UnresponsiveSites(8);
    u.missed('b', 1);
    u.missed('d', 1);
    expect(u.eligible(['a', 'b', 'c', 'd'], 2)).toEqual({ ids: ['a', 'c'], cooling: ['b', 'd'], busy: [] });
    // Round 3: their cooldown (1 round) is over.
    expect(u.eligible(['a', 'b', 'c', 'd'], 3)).toEqual({ ids: ['a', 'b', 'c', 'd'], cooling: [], busy: [] });
    // Every joined site cooling: all are asked (a round is never left without sites).
    expect(u.eligible(['b', 'd'], 2)).toEqual({ ids: ['b', 'd'], cooling: [], busy: [] });
    expect(u.eligible([], 2)).toEqual({ ids: [], cooling: [], busy: [] });
  });

  it('remembers at most maxTracked sites, forgetting the oldest record first', () => {
    const u = new UnresponsiveSites(8, 3);
    for (const id of ['a', 'b', 'c']) u.missed(id, 1);
    u.missed('a', 3); // a's record is now the newest
    u.missed('d', 3);
    expect(u.size).toBe(3);
    expect(u.misses('b')).toBe(0);
    expect(u.misses('a')).toBe(2);
    expect(u.misses('c')).toBe(1);
    expect(u.misses('d')).toBe(1);
  });
});

describe('UnresponsiveSites: sites the quorum wait cut off are busy until they answer or the deadline passes', () => {
  it('a cut-off site is not sampled before its deadline, is sampled again once it answers late, and has no miss on record', () => {
    const u = new UnresponsiveSites(8);
    u.cutOff('b', 10_000);
    expect(u.busy('b', 9_999)).toBe(true);
    expect(u.busy('b', 10_000)).toBe(false);
    expect(u.busy('a', 0)).toBe(false);
    expect(u.eligible(['a', 'b', 'c'], 2, 5_000)).toEqual({ ids: ['a', 'c'], cooling: [], busy: ['b'] });
    expect(u.eligible(['a', 'b', 'c'], 7, 9_999)).toEqual({ ids: ['a', 'c'], cooling: [], busy: ['b'] });
    expect(u.misses('b')).toBe(0);
    u.heardFrom('b');
    expect(u.busy('b', 5_000)).toBe(false);
    expect(u.eligible(['a', 'b', 'c'], 3, 5_000)).toEqual({ ids: ['a', 'b', 'c'], cooling: [], busy: [] });
    expect(u.misses('b')).toBe(0);
    expect(u.busyCount).toBe(0);
  });

  it('past its deadline with no answer a busy site is a miss from the round that finds it: it cools down from there', () => {
    const u = new UnresponsiveSites(8);
    u.cutOff('b', 10_000);
    expect(u.eligible(['a', 'b'], 6, 10_000)).toEqual({ ids: ['a'], cooling: ['b'], busy: [] });
    expect(u.misses('b')).toBe(1);
    expect(u.busyCount).toBe(0);
    expect(sitsOut(u, 'b', 1, 10)).toEqual([6, 7]);
    // A second miss in a row doubles the cooldown, as for a round's deadline.
    u.cutOff('b', 20_000);
    expect(u.eligible(['a', 'b'], 9, 20_001)).toEqual({ ids: ['a'], cooling: ['b'], busy: [] });
    expect(sitsOut(u, 'b', 8, 14)).toEqual([9, 10, 11]);
  });

  it('an accepted update ends the busy mark too; a new cut-off moves the deadline', () => {
    const u = new UnresponsiveSites(8);
    u.cutOff('b', 10_000);
    u.answered('b');
    expect(u.busy('b', 1)).toBe(false);
    u.cutOff('c', 10_000);
    u.cutOff('c', 30_000);
    expect(u.busy('c', 20_000)).toBe(true);
    expect(u.eligible(['c', 'd'], 2, 20_000)).toEqual({ ids: ['d'], cooling: [], busy: ['c'] });
  });

  it('never leaves a round without sites: when every site is busy or cooling, all are asked', () => {
    const u = new UnresponsiveSites(8);
    u.missed('a', 1);
    u.cutOff('b', 10_000);
    expect(u.eligible(['a', 'b'], 2, 0)).toEqual({ ids: ['a', 'b'], cooling: [], busy: [] });
    expect(u.eligible(['a', 'b', 'c'], 2, 0)).toEqual({ ids: ['c'], cooling: ['a'], busy: ['b'] });
    // A cooling site is listed as cooling, not busy, while both hold.
    u.cutOff('a', 10_000);
    expect(u.eligible(['a', 'b', 'c'], 2, 0)).toEqual({ ids: ['c'], cooling: ['a'], busy: ['b'] });
  });

  it('evaluable: busy sites are asked to evaluate (the request waits behind their fit), cooling ones are not', () => {
    const u = new UnresponsiveSites(8);
    u.missed('a', 1);
    u.cutOff('b', 10_000);
    expect(u.evaluable(['a', 'b', 'c'], 2, 0)).toEqual(['b', 'c']);
    expect(u.evaluable(['b', 'c'], 2, 0)).toEqual(['b', 'c']);
    // All cooling: all are asked.
    expect(u.evaluable(['a'], 2, 0)).toEqual(['a']);
    // Past the deadline the busy site's miss counts: it cools and is not asked.
    expect(u.evaluable(['a', 'b', 'c'], 2, 10_000)).toEqual(['c']);
  });

  it('remembers at most maxTracked busy sites, forgetting the oldest first', () => {
    const u = new UnresponsiveSites(8, 2);
    u.cutOff('a', 100);
    u.cutOff('b', 100);
    u.cutOff('a', 200); // a is now the newest
    u.cutOff('c', 100);
    expect(u.busyCount).toBe(2);
    expect([u.busy('a', 0), u.busy('b', 0), u.busy('c', 0)]).toEqual([true, false, true]);
  });
});
