import { afterEach, describe, expect, it, vi } from 'vitest';
import { TfGlobalModel } from '@fedtune/coordinator';
import { startTestFederation } from '../helpers/federation.ts';

// A round's robustness evaluation runs while the round's federated evaluation is awaited (round-loop.ts). When it
// failed in that window (its worker gone, say), nothing had taken its rejection yet: Node raised an unhandled
// rejection, which ends a coordinator process (and a test worker). Its failure must instead reach the run.
describe('a robustness evaluation that fails while the federated evaluation is under way', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    vi.restoreAllMocks();
  });

  it.each([
    ['the final round', 1],
    ['an earlier round (it overlaps the next one)', 2],
  ] as const)('%s: no unhandled rejection; the run fails with its reason', async (_n, rounds) => {
    process.on('unhandledRejection', onUnhandled);
    vi.spyOn(TfGlobalModel.prototype, 'evaluateRobustness').mockImplementation(() => Promise.reject(new Error('the evaluation worker is gone')));
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds,
      transport: 'memory',
      maxSiteExamples: 40,
      config: { federatedEvaluation: 'every-round', robustness: { when: 1, examples: 20, adversarialExamples: 10, pgdSteps: 2 } },
    });
    const report = await coordinator.done;
    await Promise.allSettled(siteRuns);
    await coordinator.close();
    // Let any unhandled rejection surface (Node reports them after the microtask queue drains).
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
    expect(report.status).not.toBe('complete');
    expect(report.aborted ?? '').toMatch(/the evaluation worker is gone/);
    expect(TfGlobalModel.prototype.evaluateRobustness).toHaveBeenCalled();
  });
});
