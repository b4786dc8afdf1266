import { describe, expect, it } from 'vitest';
import { STREAMING_MAX_ABS_EXPONENT, type WeightArrays } from '@fedtune/shared';
import { startTestFederation } from './helpers/federation.ts';

// A value beyond the exact streaming sum's range (±2^24) in one weight of site-2's update.
const huge = (w: WeightArrays) => w.map((a, i) => (i === 0 ? a.map((v, j) => (j === 3 ? 2 ** (STREAMING_MAX_ABS_EXPONENT + 1) : v)) : a));

describe('round engine: the streamed sum’s range', () => {
  it.each([
    { strategy: 'fedavg', refused: true },
    // Not streamed: the range does not apply (the median ignores the outlier).
    { strategy: 'fedmedian', refused: false },
  ])('$strategy: an update with |w| > 2^24 refused as non_finite in a streamed round only: $refused', async ({ strategy, refused }) => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 3,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 100,
      config: { strategy, normBoundMultiple: 0, quorum: 0.5 },
      hooks: { 'site-2': huge },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    const r = report.rounds[0];
    if (refused) {
      expect(r.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-3']);
      expect(r.rejected).toEqual([{ siteId: 'site-2', code: 'non_finite', reason: expect.stringMatching(/^update has a value \(33554432\) outside ±16777216 in .+ at index 3$/) }]);
    } else {
      expect(r.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
      expect(r.rejected).toEqual([]);
    }
    expect(Number.isFinite(report.final!.accuracy)).toBe(true);
  });
});
