import { describe, expect, it } from 'vitest';
import { checkUnresponsiveSitesState, UnresponsiveSites, type UnresponsiveSitesState } from '../../coordinator/src/engine/unresponsive-sites.ts';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../coordinator/src/persistence/checkpoint-format.ts';

/**
 * A resumed run keeps its cooldowns (docs/operations.md#sites-that-do-not-answer): the records of
 * UnresponsiveSites ride in the checkpoint, so a silent site is not asked again the round after a restart and its
 * misses in a row keep doubling its cooldown.
 */

function sitsOut(u: UnresponsiveSites, siteId: string, from: number, to: number): number[] {
  const rounds: number[] = [];
  for (let r = from; r <= to; r++) if (u.cooling(siteId, r)) rounds.push(r);
  return rounds;
}

function checkpoint(stragglers?: UnresponsiveSitesState): Checkpoint {
  return {
    runId: 'r',
    round: 3,
    weights: { manifest: [{ name: 'a', shape: [1], dtype: 'float32' }], arrays: [Float32Array.from([1])] },
    strategyState: null,
    rng: {},
    report: { rounds: [] } as never,
    ...(stragglers ? { stragglers } : {}),
  };
}

const roundTrip = (c: Checkpoint) => decodeCheckpoint(Buffer.concat(encodeCheckpoint(c).chunks));

describe('cooldowns in the checkpoint', () => {
  it('state lists every record oldest first; a site restored from it cools, doubles and is forgiven exactly as before the restart', () => {
    const before = new UnresponsiveSites(8);
    expect(before.state).toBeUndefined();
    before.missed('a', 1);
    before.missed('b', 2);
    before.missed('a', 3); // 2nd miss in a row: rounds 3–5
    expect(before.state).toEqual([['b', 1, 2, 3], ['a', 2, 3, 5]]);
    const after = new UnresponsiveSites(8, undefined, roundTrip(checkpoint(before.state)).stragglers);
    for (const u of [before, after]) {
      expect(sitsOut(u, 'a', 1, 10)).toEqual([3, 4, 5]);
      expect(sitsOut(u, 'b', 1, 10)).toEqual([2, 3]);
      expect(u.misses('a')).toBe(2);
      expect(u.eligible(['a', 'b', 'c'], 3)).toEqual({ ids: ['c'], cooling: ['a', 'b'], busy: [] });
      expect(u.eligible(['a', 'b', 'c'], 4)).toEqual({ ids: ['b', 'c'], cooling: ['a'], busy: [] });
      expect(u.missed('a', 6)).toBe(4); // the 3rd miss in a row doubles again
      u.answered('b');
    }
    expect(after.state).toEqual(before.state);
    expect(after.state).toEqual([['a', 3, 6, 10]]);
  });

  it('with cooldowns turned off on resume the records are dropped; a lowered maximum shortens the cooldowns on record', () => {
    const state: UnresponsiveSitesState = [['a', 5, 10, 18], ['b', 1, 10, 11]];
    const off = new UnresponsiveSites(0, undefined, state);
    expect(off.size).toBe(0);
    expect(off.cooling('a', 11)).toBe(false);
    expect(off.eligible(['a', 'b'], 11)).toEqual({ ids: ['a', 'b'], cooling: [], busy: [] });
    const lowered = new UnresponsiveSites(2, undefined, state);
    expect(sitsOut(lowered, 'a', 9, 20)).toEqual([10, 11, 12]);
    expect(sitsOut(lowered, 'b', 9, 20)).toEqual([10, 11]);
    expect(lowered.misses('a')).toBe(5);
    // The memory bound holds for restored records too: the newest are kept.
    const bounded = new UnresponsiveSites(8, 2, [['x', 1, 1, 2], ...state]);
    expect(bounded.state?.map(([id]) => id)).toEqual(['a', 'b']);
  });

  it('a checkpoint without records (and one written before they existed) decodes without them', () => {
    expect(roundTrip(checkpoint()).stragglers).toBeUndefined();
    expect(roundTrip(checkpoint([['s', 1, 0, 0]])).stragglers).toEqual([['s', 1, 0, 0]]);
  });

  const malformed: Array<[string, unknown]> = [
    ['not a list', { a: 1 }],
    ['an entry that is not a list', ['a']],
    ['an entry of 3 values', [['a', 1, 2]]],
    ['an entry of 5 values', [['a', 1, 2, 3, 4]]],
    ['a numeric site id', [[1, 1, 2, 3]]],
    ['a site id that is an object with a length', [[{ length: 3 }, 1, 2, 3]]],
    ['an empty site id', [['', 1, 2, 3]]],
    ['a site id of 129 characters', [['x'.repeat(129), 1, 2, 3]]],
    ['a site id twice', [['a', 1, 2, 3], ['a', 1, 4, 5]]],
    ['zero misses', [['a', 0, 2, 3]]],
    ['a fractional miss count', [['a', 1.5, 2, 3]]],
    ['a negative round', [['a', 1, -1, 3]]],
    ['a round that is not a number', [['a', 1, '2', 3]]],
    ['an unsafe integer', [['a', 1, 2, 2 ** 53]]],
    ['until before from', [['a', 1, 3, 2]]],
  ];
  it.each(malformed)('records with %s are refused as a codec error naming the entry', (_, value) => {
    expect(() => checkUnresponsiveSitesState(value)).toThrow(expect.objectContaining({ code: 'codec', message: expect.stringMatching(/^checkpoint straggler record(s are not a list| \d+ is malformed)/) }));
  });

  it('the largest valid values pass: a 128-character id, until = from, round 0', () => {
    const ok: UnresponsiveSitesState = [['x'.repeat(128), 1, 0, 0], ['b', 2 ** 40, 7, 7]];
    expect(checkUnresponsiveSitesState(ok)).toBe(ok);
    expect(checkUnresponsiveSitesState([])).toEqual([]);
    expect(() => checkUnresponsiveSitesState([['a', 1, 2, 3], ['b', 1, 2, 1]])).toThrow(/record 1 is malformed/);
  });

  it('a checkpoint whose records are malformed is refused when decoded (the store then falls back to an earlier one)', () => {
    expect(() => roundTrip(checkpoint([['a', 0, 1, 2]]))).toThrow(expect.objectContaining({ code: 'codec', message: expect.stringMatching(/straggler record 0 is malformed/) }));
  });
});
