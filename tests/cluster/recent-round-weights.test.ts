import { describe, expect, it } from 'vitest';
import { RecentRoundWeights } from '../../coordinator/src/cluster/recent-round-weights.ts';

describe('RecentRoundWeights: which rounds\' weights a leader deletes from Redis', () => {
  it('keeps the newest two, returning the older ones oldest first', () => {
    const r = new RecentRoundWeights();
    expect(r.add('a')).toEqual([]);
    expect(r.add('b')).toEqual([]);
    expect(r.add('c')).toEqual(['a']);
    expect(r.add('d')).toEqual(['b']);
  });

  it('a retried round (the same hash again) stays the newest and deletes nothing', () => {
    const r = new RecentRoundWeights();
    r.add('a');
    r.add('b');
    expect(r.add('b')).toEqual([]);
    expect(r.add('a')).toEqual([]);
    // 'a' is now the newest: the next one sends 'b' away, not 'a'.
    expect(r.add('c')).toEqual(['b']);
  });

  it.each([1, 3])('keeps as many as it is told (%i)', (keep) => {
    const r = new RecentRoundWeights(keep);
    const dropped = ['a', 'b', 'c', 'd', 'e'].flatMap((h) => r.add(h));
    expect(dropped).toEqual(['a', 'b', 'c', 'd', 'e'].slice(0, 5 - keep));
  });
});
