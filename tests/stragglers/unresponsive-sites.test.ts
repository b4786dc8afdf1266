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
    expect(u.eligible(['a', 'b'], 2)).toEqual({ ids: ['a', 'b'], cooling: [] });
  });

  it('eligible leaves out the cooling sites in their order, but never every site', () => {
    const u = new UnresponsiveSites(8);
    u.missed('b', 1);
    u.missed('d', 1);
    expect(u.eligible(['a', 'b', 'c', 'd'], 2)).toEqual({ ids: ['a', 'c'], cooling: ['b', 'd'] });
    // Round 3: their cooldown (1 round) is over.
    expect(u.eligible(['a', 'b', 'c', 'd'], 3)).toEqual({ ids: ['a', 'b', 'c', 'd'], cooling: [] });
    // Every joined site cooling: all are asked (a round is never left without sites).
    expect(u.eligible(['b', 'd'], 2)).toEqual({ ids: ['b', 'd'], cooling: [] });
    expect(u.eligible([], 2)).toEqual({ ids: [], cooling: [] });
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
