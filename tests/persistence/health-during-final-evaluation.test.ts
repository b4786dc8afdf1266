import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator, type EngineEvent } from '@fedtune/coordinator';
import type { CoordinatorLink } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { lightSite, newLightSiteCounters } from '../../bench/load-light-site.ts';

/** Enough robustness work that the final round's evaluation spans many health checks. */
const ROBUSTNESS = { when: 'final' as const, examples: 100, adversarialExamples: 16, pgdSteps: 2, noise: [0.1, 0.2], corruptions: ['rotate'], fgsm: [0.1], pgd: [0.1] };

describe('health during the final round\'s robustness evaluation (real HTTP, real socket.io sites)', () => {
  it('GET /api/health keeps answering while the final round evaluates the model, before the evaluation finishes', async () => {
    const backend = await selectNodeBackend();
    // Health answers, each stamped with the phase of the run it came back in.
    const answers: Array<{ phase: string; status: number }> = [];
    let phase = 'before';
    let polling: Promise<void> | undefined;
    let url = '';
    const poll = async () => {
      // Bounded, so a run that never ends fails the test's expectations rather than hanging it.
      for (let k = 0; k < 10_000 && phase !== 'after'; k++) {
        const res = await fetch(`${url}/api/health`);
        await res.arrayBuffer();
        answers.push({ phase, status: res.status });
      }
    };
    const events: EngineEvent[] = [];
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 200),
      backend: backend.backend,
      transport: 'socket',
      apiRateLimit: false,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'robustness-start') {
          phase = 'evaluating';
          polling = poll();
        }
        if (e.type === 'round-end') phase = 'after';
      },
      config: { runId: 'health-final', rounds: 1, minSites: 2, seed: 5, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, federatedEvaluation: 'never', robustness: ROBUSTNESS },
    });
    url = coordinator.url!;
    const counters = newLightSiteCounters();
    const links: CoordinatorLink[] = [];
    try {
      for (const siteId of ['site-a', 'site-b']) links.push(await lightSite({ url, siteId, counters }));
      const report = await coordinator.done;
      await polling;
      expect(report.status).toBe('complete');
      // The evaluation really ran in the final round, and is in the report.
      expect(report.finalRobustness).toBeDefined();
      expect(report.rounds[0].robustness).toEqual(report.finalRobustness);
      const types = events.map((e) => e.type).filter((t) => t === 'robustness-start' || t === 'round-end');
      expect(types).toEqual(['robustness-start', 'round-end']);
      // Health answered, with 200, several times while the evaluation was still running (the round ends
      // only once it is done): the event loop was not held by it.
      const during = answers.filter((a) => a.phase === 'evaluating');
      expect(during.length).toBeGreaterThanOrEqual(3);
      expect(during.every((a) => a.status === 200)).toBe(true);
    } finally {
      for (const link of links) link.close();
      await coordinator.close();
    }
  }, 120_000);
});
