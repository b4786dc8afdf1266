import { describe, expect, it } from 'vitest';
import { RetryExclusions } from '../../coordinator/src/engine/retry-exclusions.ts';

describe("RetryExclusions: who a plain round's retry leaves out", () => {
  const sorted = (s: Set<string>) => [...s].sort();

  it('before any failed attempt, only the sites that joined since the round began', () => {
    const r = new RetryExclusions(['a', 'b', 'c'], 2);
    expect(sorted(r.leftOut(['a', 'b', 'c']))).toEqual([]);
    expect(sorted(r.leftOut(['a', 'b', 'c', 'new-1', 'new-2']))).toEqual(['new-1', 'new-2']);
  });

  it('the sites that failed an attempt and the newcomers, while minSites remain', () => {
    const r = new RetryExclusions(['h1', 'h2', 's1', 's2', 's3'], 2);
    r.noteFailedAttempt(['s1', 's2', 's3']);
    expect(sorted(r.leftOut(['h1', 'h2', 's1', 's2', 's3', 'fresh']))).toEqual(['fresh', 's1', 's2', 's3']);
    // A failure noted twice, and sites no longer joined, change nothing.
    r.noteFailedAttempt(['s1', 'gone']);
    expect(sorted(r.leftOut(['h1', 'h2', 's1']))).toEqual(['s1']);
  });

  it('failures add up over the attempts', () => {
    const r = new RetryExclusions(['a', 'b', 'c', 'd'], 1);
    r.noteFailedAttempt(['a']);
    expect(sorted(r.leftOut(['a', 'b', 'c', 'd']))).toEqual(['a']);
    r.noteFailedAttempt(['b']);
    expect(sorted(r.leftOut(['a', 'b', 'c', 'd']))).toEqual(['a', 'b']);
  });

  it.each([
    // [minSites, joined, failed, left out]
    [2, ['h1', 'h2', 's1'], ['s1'], ['s1']], // exactly minSites usable: left out
    [3, ['h1', 'h2', 's1'], ['s1'], []], // one short of minSites: every site sampled again
    [2, ['h1', 'n1', 's1'], ['s1'], ['s1']], // without the failed, 2 usable; of them only 1 known: newcomers stay
    [1, ['h1', 'n1', 's1'], ['s1'], ['n1', 's1']], // 1 known is enough for minSites 1: newcomers out too
    [2, ['h1', 'h2', 'n1'], [], ['n1']], // exactly minSites known: newcomers out
    [3, ['h1', 'h2', 'n1'], [], []], // one known short: newcomers stay
    [0, ['s1'], ['s1'], ['s1']], // minSites 0 (no floor): all failed left out
  ] as const)('minSites %i, joined %j, failed %j: leaves out %j', (minSites, joined, failed, out) => {
    const r = new RetryExclusions(['h1', 'h2', 's1'], minSites);
    r.noteFailedAttempt(failed);
    expect(sorted(r.leftOut(joined))).toEqual([...out].sort());
  });
});
