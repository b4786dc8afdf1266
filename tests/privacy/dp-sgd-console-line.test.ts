import { expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { dpSgdEpsilonLine, RoundProgress } from '../../cli/src/ui/round-progress.ts';
import { consoleLines } from '../helpers/console-lines.ts';

/** DP-SGD's ε on the console: the README says a DP-SGD run reports each site's ε; it was only in report.json. */
const accepted = (siteId: string, epsilon?: number): RoundRecord['accepted'][number] => ({ siteId, numExamples: 10, loss: 1, accuracy: 0.5, durationMs: 1, ...(epsilon !== undefined ? { epsilon } : {}) });
const record = (a: RoundRecord['accepted']): RoundRecord => ({ round: 3, durationMs: 900, attempts: 1, selected: a.map((x) => x.siteId), accepted: a, rejected: [], failed: [], bytesDown: 0, bytesUp: 0, global: { accuracy: 0.8, loss: 0.5 }, modelDir: 'models/round-3' });

it.each([
  [[accepted('a'), accepted('b')], undefined],
  [[accepted('a', 2.5)], "       DP-SGD: the sites' record-level ε so far: largest 2.5 (a), median 2.5 over 1 site (each site's own δ; report.json lists every site's)"],
  [[accepted('a', 1), accepted('b', 3.123456), accepted('c', 2)], "       DP-SGD: the sites' record-level ε so far: largest 3.123 (b), median 2 over 3 sites (each site's own δ; report.json lists every site's)"],
  [[accepted('a', 1), accepted('b', 4), accepted('c'), accepted('d', 2), accepted('e', 3)], "       DP-SGD: the sites' record-level ε so far: largest 4 (b), median 2.5 over 4 sites (each site's own δ; report.json lists every site's)"],
  [[accepted('a', 1), accepted('b', Infinity)], "       DP-SGD: the sites' record-level ε so far: largest ∞ (b), median ∞ over 2 sites (each site's own δ; report.json lists every site's)"],
])('%j → %s', (a, line) => {
  expect(dpSgdEpsilonLine(record(a))).toBe(line);
});

it('the round table prints it under the round\'s row; a peer\'s site id stays on one line', () => {
  const lines = consoleLines(() => new RoundProgress(5).handle({ type: 'round-end', record: record([accepted('evil\n\u001b[2J', 9)]) } as never));
  expect(lines.at(-1)).toMatch(/^ {7}DP-SGD: the sites' record-level ε so far: largest 9 \(evil +\[2J\)/);
  expect(lines.at(-1)).not.toMatch(/[\n\u001b]/);
});
