import { expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { RoundProgress } from '../../cli/src/ui/round-progress.ts';
import { consoleLines } from '../helpers/console-lines.ts';

const record = (cooling?: RoundRecord['cooling']): RoundRecord => ({
  round: 2, durationMs: 900, attempts: 1, selected: ['a'], accepted: [], rejected: [], failed: [], bytesDown: 0, bytesUp: 0,
  global: { accuracy: 0.8, loss: 0.5 }, modelDir: 'models/round-2', ...(cooling ? { cooling } : {}),
});

it('the console says how many sites sat a round out, naming at most 3 (one line; nothing when none did)', () => {
  const lines = (r: RoundRecord) => consoleLines(() => new RoundProgress(5).handle({ type: 'round-end', record: r } as never)).slice(1);
  expect(lines(record())).toHaveLength(1);
  expect(lines(record({ count: 1, sites: ['silent-1'] }))[1]).toBe('       1 site sat this round out: no answer in an earlier round (silent-1; --straggler-cooldown)');
  const many = lines(record({ count: 5, sites: ['s-1', 's-2', 's-3', 's-4', 's-5'] }))[1];
  expect(many).toBe('       5 sites sat this round out: no answer in an earlier round (s-1, s-2, s-3, …; --straggler-cooldown)');
  // A peer's name with control characters stays on one line.
  expect(lines(record({ count: 1, sites: ['evil\n\u001b[2Jname'] }))[1]).not.toMatch(/[\n\u001b]/);
});

it('and how many sat it out still training a fit the quorum wait cut off (a line of its own, bounded names)', () => {
  const lines = (r: RoundRecord) => consoleLines(() => new RoundProgress(5).handle({ type: 'round-end', record: r } as never)).slice(1);
  const busy = (b: RoundRecord['busy'], cooling?: RoundRecord['cooling']): RoundRecord => ({ ...record(cooling), busy: b });
  expect(lines(busy({ count: 1, sites: ['slow-1'] }))[1]).toBe('       1 site sat this round out: still training a fit the quorum wait cut off (slow-1; --wait-after-quorum)');
  const both = lines(busy({ count: 4, sites: ['b-1', 'b-2', 'b-3', 'b-4'] }, { count: 1, sites: ['silent-1'] }));
  expect(both.slice(1)).toEqual([
    '       1 site sat this round out: no answer in an earlier round (silent-1; --straggler-cooldown)',
    '       4 sites sat this round out: still training a fit the quorum wait cut off (b-1, b-2, b-3, …; --wait-after-quorum)',
  ]);
  expect(lines(busy({ count: 1, sites: ['x'.repeat(500)] }))[1].length).toBeLessThan(200);
});
