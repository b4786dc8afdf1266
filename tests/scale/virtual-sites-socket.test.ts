import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { runVirtualSites, VirtualDigitsSites } from '@fedtune/client-node';
import { socketIoConnector, virtualSiteName, type SiteEvent } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

/**
 * One process hosts 200 virtual sites over real socket.io (one connection each); the coordinator samples
 * 1% of them per round. A site's data exists only while it answers an instruction, and its model goes with
 * it (sitesKeepModel false): after the run nothing of the sites is live.
 */
const SITES = 200;

describe('virtual sites over socket.io', () => {
  it('200 virtual sites complete 2 rounds at 1%: each instruction makes its site data once and drops it, same data every time', async () => {
    const backend = await selectNodeBackend();
    const sites = new VirtualDigitsSites(builtinDigits().pool, { seed: 11, examples: 20, alpha: 0.5 });
    const loads = new Map<number, string[]>();
    sites.onLoad = (index, s) => {
      const key = `${Buffer.from(s.train.x.buffer).toString('base64')}|${[...s.train.y, ...s.test.y].join(',')}`;
      loads.set(index, [...(loads.get(index) ?? []), key]);
    };
    const tensorsBefore = tf.memory().numTensors;
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 100),
      backend: backend.backend,
      transport: 'socket',
      host: '127.0.0.1',
      config: {
        runId: 'virtual-socket',
        rounds: 2,
        minSites: SITES,
        fraction: 0.01,
        seed: 11,
        sitesKeepModel: false,
        maxEvaluationSites: 4,
        federatedEvaluation: 'every-round',
        robustness: { when: 'never' },
        roundTimeoutMs: 120_000,
        joinTimeoutMs: 120_000,
      },
    });
    const instructions: Array<{ siteId: string; type: SiteEvent['type'] }> = [];
    let liveDuringWork = 0;
    try {
      const runs = runVirtualSites({
        sites,
        range: { first: 0, last: SITES - 1 },
        connector: () => socketIoConnector({ url: coordinator.url! }),
        backend: backend.backend,
        onEvent: (siteId, e) => {
          if (e.type === 'fit-done' || e.type === 'evaluate-done' || e.type === 'failed') {
            instructions.push({ siteId, type: e.type });
            liveDuringWork = Math.max(liveDuringWork, sites.live);
          }
        },
      });
      const report = await coordinator.done;
      const outcomes = await Promise.all(runs);
      expect(report.status).toBe('complete');
      expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
      expect(report.rounds).toHaveLength(2);
      for (const r of report.rounds) {
        expect(r.selected).toHaveLength(2); // ceil(1% × 200)
        for (const id of r.selected) expect(id).toMatch(/^v-00\d{3}$/);
        expect(r.accepted).toHaveLength(2);
      }
      expect(instructions.filter((i) => i.type === 'failed')).toEqual([]);
      const fits = instructions.filter((i) => i.type === 'fit-done').length;
      const evaluations = instructions.filter((i) => i.type === 'evaluate-done').length;
      expect(fits).toBe(4);
      expect(evaluations).toBe(8); // 4 sites per federated evaluation, every round
      // One dataset per instruction, made while it was answered, none left after.
      expect(sites.materialised).toBe(fits + evaluations);
      expect(sites.live).toBe(0);
      expect(liveDuringWork).toBeGreaterThanOrEqual(1);
      expect(sites.peakLive).toBeLessThanOrEqual(4);
      // Only sampled sites ever made data; a site made more than once got the same data each time.
      const sampled = new Set(report.rounds.flatMap((r) => r.selected));
      for (const i of instructions) if (i.type === 'fit-done') expect(sampled.has(i.siteId)).toBe(true);
      expect(loads.size).toBeLessThanOrEqual(fits + evaluations);
      for (const [index, keys] of loads) {
        expect(new Set(keys).size, virtualSiteName(index)).toBe(1);
      }
      // Updates weigh the 16 train examples of a 20-digit site.
      expect(report.rounds[0].accepted.map((s) => s.numExamples)).toEqual([16, 16]);
      expect(report.rounds[1].federated?.sites).toHaveLength(4);
    } finally {
      await coordinator.close();
    }
    // The sites dropped their models: no tensor of theirs (nor of the closed coordinator) is left.
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore);
  }, 300_000);
});
