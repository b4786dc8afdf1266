import { expect, it } from 'vitest';
import type { RoundRecord } from '@fedtune/shared';
import { RoundProgress } from '../../cli/src/ui/round-progress.ts';
import { consoleLines } from '../helpers/console-lines.ts';

// A round whose every attempt's aggregate the adoption guard refused keeps the previous model: the console says so
// after the row (a new user saw "attempt 1/2 failed: model not adopted … retrying", then a row with 1 accepted and
// "complete: 63.1% → 63.1%", and the third refusal only in report.json).
const record = (adoption?: RoundRecord['adoption']): RoundRecord => ({
  round: 1, durationMs: 900, attempts: 3, selected: ['a'], accepted: [{ siteId: 'a', numExamples: 10, loss: 1, accuracy: 0.5, durationMs: 1 }], rejected: [], failed: [], bytesDown: 0, bytesUp: 0,
  global: { accuracy: 0.631, loss: 0.5 }, modelDir: 'models/round-1', ...(adoption ? { adoption } : {}),
});
const lines = (r: RoundRecord) => consoleLines(() => new RoundProgress(5).handle({ type: 'round-end', record: r } as never)).slice(1);

it.each([
  ['no refusal: no line', undefined, undefined],
  ['refused, then adopted on a retry: no line (the retry said why)', { adopted: true, refusals: [{ attempt: 1, reason: 'accuracy 0.38 is 0.25 below 0.63' }] }, undefined],
  [
    'every attempt refused: the round kept the previous model, with the last reason on one line',
    { adopted: false, refusals: [{ attempt: 1, reason: 'a' }, { attempt: 3, reason: 'accuracy 0.384\nis 0.25 below' }] },
    "       the round kept the previous model: its last attempt's aggregate was not adopted either (accuracy 0.384 is 0.25 below); the row is the kept model",
  ],
] as const)('%s', (_label, adoption, line) => {
  const out = lines(record(adoption as RoundRecord['adoption']));
  const kept = out.filter((l) => l.includes('kept the previous model'));
  expect(kept).toEqual(line === undefined ? [] : [line]);
});
