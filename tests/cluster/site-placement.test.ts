import { describe, expect, it } from 'vitest';
import { nodeIndexForSite } from '@fedtune/shared';
import { placeSite } from '../../coordinator/src/cluster/site-placement.ts';

const counts = (leader: string, entries: Array<[string, number]>) => ({ leader, sites: new Map(entries) });

describe('placeSite (a cluster node above its share sends a joining site on)', () => {
  // [case, at, counts (joining site counted at `at`), leaderWeight, ok]
  const cases: Array<[string, string, Array<[string, number]>, number, boolean]> = [
    ['a lone node always takes the site', 'L', [['L', 100]], 0.5, true],
    ['a lone leader of weight 0 takes the site too', 'L', [['L', 3]], 0, true],
    ['two nodes: the one above its share sends the site to the other', 'L', [['L', 3], ['A', 0]], 1, false],
    ['at its share with room elsewhere: here', 'L', [['L', 4], ['A', 2], ['B', 6]], 1, true],
    ['equal weights, at its share: here', 'L', [['L', 4], ['A', 4], ['B', 4]], 1, true],
    ['equal weights, one above the rounded-up share with room elsewhere: sent on', 'L', [['L', 6], ['A', 3], ['B', 3]], 1, false],
    ['a follower above its share is sent on too', 'A', [['L', 2], ['A', 7], ['B', 3]], 1, false],
    ['leader weight 0.5: the leader at 3 of 12 (share 2.4 → 3) keeps it', 'L', [['L', 3], ['A', 5], ['B', 4]], 0.5, true],
    ['leader weight 0.5: the leader at 4 of 12 is sent on', 'L', [['L', 4], ['A', 4], ['B', 4]], 0.5, false],
    ['leader weight 1: the same counts keep it', 'L', [['L', 4], ['A', 4], ['B', 4]], 1, true],
    ['leader weight 0: the leader holds a site only when no follower has room', 'L', [['L', 1], ['A', 0], ['B', 0]], 0, false],
    ['leader weight 0: a follower at its share with the other full keeps it', 'A', [['L', 0], ['A', 5], ['B', 5]], 0, true],
    ['above its share but no node has room: here', 'A', [['L', 0], ['A', 6], ['B', 6]], 0, true],
    ['a node the leader has not heard from: here', 'X', [['L', 9], ['A', 0]], 1, true],
  ];
  it.each(cases)('%s', (_name, at, entries, weight, ok) => {
    expect(placeSite(at, counts('L', entries), weight).ok).toBe(ok);
  });

  it('sites sent on and still in flight count in the total: a burst of joins is not mistaken for a small cluster', () => {
    expect(placeSite('L', counts('L', [['L', 2], ['A', 0], ['B', 0]]), 1).ok).toBe(false);
    expect(placeSite('L', { ...counts('L', [['L', 2], ['A', 0], ['B', 0]]), pending: 3 }, 1).ok).toBe(true);
    expect(placeSite('L', { ...counts('L', [['L', 3], ['A', 0], ['B', 0]]), pending: 3 }, 1).ok).toBe(false);
  });

  it('a refusal names the node, its count, its share and a node with room (bounded)', () => {
    const v = placeSite('L', counts('L', [['L', 6], ['A', 3], ['B', 2]]), 1);
    expect(v).toEqual({ ok: false, reason: expect.stringMatching(/node L holds 6 of the cluster's 11 sites, more than its share of 4: .*node B has room/) });
  });

  it('names the node filled least (count ÷ share), whichever order the nodes come in', () => {
    expect(placeSite('L', counts('L', [['L', 6], ['A', 2], ['B', 3]]), 1)).toEqual({ ok: false, reason: expect.stringMatching(/\(node A has room\)$/) });
    expect(placeSite('L', counts('L', [['L', 6], ['B', 3], ['A', 2]]), 1)).toEqual({ ok: false, reason: expect.stringMatching(/\(node A has room\)$/) });
    // Two nodes filled equally: the first one listed is named (a stable answer, not the last one seen).
    expect(placeSite('L', counts('L', [['L', 6], ['A', 2], ['B', 2]]), 1)).toEqual({ ok: false, reason: expect.stringMatching(/\(node A has room\)$/) });
    expect(placeSite('L', counts('L', [['L', 6], ['B', 2], ['A', 2]]), 1)).toEqual({ ok: false, reason: expect.stringMatching(/\(node B has room\)$/) });
    // By fill, not by count: with the leader's weight 0.5, L at 1 of its share 2.4 is fuller than A at 1 of 4.8.
    expect(placeSite('B', counts('L', [['L', 1], ['A', 1], ['B', 10]]), 0.5)).toEqual({ ok: false, reason: expect.stringMatching(/\(node A has room\)$/) });
  });

  it('a weight outside [0, 1] is a config error', () => {
    for (const w of [-0.1, 1.5, Number.NaN]) expect(() => placeSite('L', counts('L', [['L', 1], ['A', 1]]), w)).toThrow(expect.objectContaining({ code: 'config', message: `leaderWeight must be in [0, 1], got ${w}` }));
  });

  it('filled one hello at a time, the nodes end within two sites of their weighted shares (shares rounded up)', () => {
    for (const weight of [0, 0.5, 0.7, 1]) {
      const sites = new Map<string, number>([['L', 0], ['A', 0], ['B', 0]]);
      const order = ['L', 'A', 'B'];
      for (let k = 0; k < 300; k++) {
        // Every site starts at node-1 of its list (the worst case: one URL given first to all) and moves on when sent on.
        for (let i = 0; i < 3; i++) {
          const at = order[i];
          sites.set(at, sites.get(at)! + 1);
          if (i === 2 || placeSite(at, { leader: 'L', sites }, weight).ok) break;
          sites.set(at, sites.get(at)! - 1);
        }
      }
      const total = 300;
      const share = (n: string) => (total * (n === 'L' ? weight : 1)) / (2 + weight);
      for (const n of order) expect(Math.abs(sites.get(n)! - share(n)), `${n} at weight ${weight}`).toBeLessThan(2);
    }
  });
});

describe('nodeIndexForSite (where a site with a cluster\'s URL list starts)', () => {
  it('is stable, in range, and spreads site ids evenly', () => {
    expect(nodeIndexForSite('site-1', 3)).toBe(nodeIndexForSite('site-1', 3));
    const per = [0, 0, 0];
    for (let k = 1; k <= 3000; k++) per[nodeIndexForSite(`site-${k}`, 3)]++;
    for (const n of per) expect(n).toBeGreaterThan(900);
    expect(nodeIndexForSite('anything', 1)).toBe(0);
  });

  it('FNV-1a: known values', () => {
    // FNV-1a 32-bit of "a" is 0xe40c292c; of "" is the offset basis 0x811c9dc5.
    expect(nodeIndexForSite('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    expect(nodeIndexForSite('', 1000)).toBe(0x811c9dc5 % 1000);
  });

  it('refuses a node count below 1 (config)', () => {
    for (const n of [0, -1, 1.5]) expect(() => nodeIndexForSite('s', n)).toThrow(expect.objectContaining({ code: 'config', message: `the number of coordinator nodes must be a whole number ≥ 1, got ${n}` }));
  });
});
