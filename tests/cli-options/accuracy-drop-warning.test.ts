import { describe, expect, it } from 'vitest';
import { accuracyDropWarning } from '../../cli/src/ui/accuracy-drop-warning.ts';

const rounds = (perRound: number[]) => perRound.map((n) => ({ selected: Array.from({ length: n }, (_, i) => `s${i}`) })) as never;
const report = (before: number | undefined, after: number | undefined, dp = false, perRound = [4, 4]) =>
  ({ pretrained: before === undefined ? undefined : { accuracy: before, loss: 1 }, final: after === undefined ? undefined : { accuracy: after, loss: 1 }, rounds: rounds(perRound), config: dp ? { dp: { noiseMultiplier: 1.1 } } : {} }) as never;

describe('the warning at the end of a run whose final model is worse than the pretrained one', () => {
  it.each([
    ['better', 0.631, 0.802, undefined],
    ['the same', 0.631, 0.631, undefined],
    ['within half a point', 0.631, 0.627, undefined],
    ['no pretrained accuracy', undefined, 0.1, undefined],
    ['no final accuracy', 0.631, undefined, undefined],
  ] as const)('%s: no warning', (_, before, after, expected) => {
    expect(accuracyDropWarning(report(before, after))).toBe(expected);
  });

  it('worse by more than half a point: one warning line with both accuracies', () => {
    expect(accuracyDropWarning(report(0.631, 0.62))).toBe('warning: the final model is less accurate than the pretrained one (63.1% → 62.0% on the holdout): the pretrained model may serve better');
  });

  it('under client-level DP: names the sites per round and what to change', () => {
    expect(accuracyDropWarning(report(0.631, 0.141, true, [4, 4, 5]))).toBe(
      'warning: the final model is less accurate than the pretrained one (63.1% → 14.1% on the holdout): with client-level DP the noise added to the mean of 4 site updates per round swamps them; DP-FedAvg needs many sites per round (--sites, --fraction) or less noise (--dp-noise)',
    );
  });
});
