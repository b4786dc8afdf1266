import { describe, expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { settleRoundRecord } from '../../coordinator/src/persistence/settled-rounds.ts';
import { foldSettledPrefix } from '../../coordinator/src/report/settled-prefix-fold.ts';

// foldSettledPrefix: what a run's settled rounds add up to, kept from call to call so a call folds only the rounds
// settled since the previous one, and never reused for rounds that are not, by identity, the ones it folded.

const record = (round: number) => ({ round, accepted: [] }) as unknown as RoundRecord;
const rounds = (n: number) => Array.from({ length: n }, (_, i) => record(i + 1));

/** Folds the rounds' numbers into a list, recording which records `add` was called with. */
function counter() {
  const added: number[] = [];
  const fold = (rs: readonly RoundRecord[], name = 'rounds') =>
    foldSettledPrefix(rs, name, () => [] as number[], (list, r) => (added.push(r.round), [...list, r.round]));
  return { added, fold };
}

describe('foldSettledPrefix', () => {
  it('folds only the settled prefix, and on the next call only the rounds settled since', () => {
    const rs = rounds(6);
    const { added, fold } = counter();
    expect(fold(rs)).toEqual({ state: [], settled: 0 });
    for (const r of rs.slice(0, 3)) settleRoundRecord(r);
    expect(fold(rs)).toEqual({ state: [1, 2, 3], settled: 3 });
    expect(fold(rs)).toEqual({ state: [1, 2, 3], settled: 3 });
    settleRoundRecord(rs[4]); // round 5 settled, round 4 not: the prefix stops at round 3
    expect(fold(rs).settled).toBe(3);
    settleRoundRecord(rs[3]);
    expect(fold([...rs])).toEqual({ state: [1, 2, 3, 4, 5], settled: 5 });
    expect(added).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps a fold per name, and folds anew for records that are not the ones it folded', () => {
    const rs = rounds(4);
    for (const r of rs) settleRoundRecord(r);
    const { added, fold } = counter();
    fold(rs, 'a');
    fold(rs, 'b');
    fold(rs, 'a');
    expect(added).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    added.length = 0;
    // An earlier record replaced, the last one shared: not this fold's rounds.
    const replaced = [...rs];
    replaced[1] = record(20);
    settleRoundRecord(replaced[1]);
    expect(fold(replaced, 'a').state).toEqual([1, 20, 3, 4]);
    // A shorter report of the same records finds no fold under its own last record and folds its rounds.
    expect(fold(rs.slice(0, 2), 'a').state).toEqual([1, 2]);
    expect(added).toEqual([1, 20, 3, 4, 1, 2]);
  });
});
