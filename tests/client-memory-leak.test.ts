import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { startTestFederation } from './helpers/federation.ts';

describe('site client memory', () => {
  it('holds the same number of tensors after every round (no leak across rounds)', async () => {
    const counts: number[] = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 5,
      transport: 'memory',
      maxSiteExamples: 150,
      config: { federatedEvaluation: 'every-round' },
      onSiteEvent: (siteId, e) => {
        if (siteId === 'site-1' && e.type === 'evaluate-done') counts.push(tf.memory().numTensors);
      },
    });
    const before = tf.memory().numTensors;
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status).toBe('complete');
    expect(counts).toHaveLength(5);
    // Rounds 2..5 must not grow the tensor count that round 1 settled at.
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[4]).toBe(counts[1]);
    // After the sites and the coordinator dispose their models, nothing they made remains.
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  });
});
