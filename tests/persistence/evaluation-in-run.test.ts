import { describe, expect, it } from 'vitest';
import { createCoordinatorServer, loadModelDir, pretrainedModelDir, parseRunConfig, type EngineEvent } from '@fedtune/coordinator';
import { deriveSeed, MemoryNetwork, siteName, SiteClient, splitDataset, type RobustnessReport, type RunReport } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

const QUICK_ROBUSTNESS = { when: 'every-round' as const, examples: 80, adversarialExamples: 16, pgdSteps: 2, noise: [0.2], corruptions: ['rotate'], fgsm: [0.1], pgd: [0.1] };

/** One 3-round federation of 2 sites on the memory transport, evaluating robustness every round. */
async function run(evaluation: 'worker' | 'in-process') {
  const backend = await selectNodeBackend();
  const memory = new MemoryNetwork();
  const events: EngineEvent[] = [];
  const server = createCoordinatorServer({
    runsDir: tempDir(),
    holdout: head(builtinDigits().holdout, 200),
    architecture: 'mlp',
    backend: backend.backend,
    transport: memory,
    maxMessageBytes: 16 * 1024 * 1024,
    evaluation,
    onEvent: (e) => events.push(e),
  });
  const config = parseRunConfig({ runId: 'overlap', rounds: 3, minSites: 2, seed: 3, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, federatedEvaluation: 'final', robustness: QUICK_ROBUSTNESS });
  const session = server.startRun({ config, model: await loadModelDir(pretrainedModelDir('mlp')) });
  const sites = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 3 }).map((full, k) =>
    new SiteClient({ policy: testSitePolicy(), siteId: siteName(k), connector: memory.connector(), data: splitDataset(head(full, 60), deriveSeed(3, 'split', siteName(k))), backend: backend.backend, runtime: 'node' }).run(),
  );
  const report = await session.done;
  await Promise.all(sites);
  const inWorker = await session.globalModel.evaluatesInWorker();
  const exited = session.globalModel.evaluationThread?.exited;
  await server.close();
  return { report, events, inWorker, exited };
}

const withoutTimes = (r: RobustnessReport | undefined) => {
  if (!r) return r;
  const { timings, durationMs, ...rest } = r;
  void timings;
  void durationMs;
  return rest;
};
const numbers = (report: RunReport) => ({
  pretrained: report.pretrained,
  rounds: report.rounds.map((r) => ({ global: r.global, robustness: withoutTimes(r.robustness), federated: r.federated?.accuracy })),
  finalRobustness: withoutTimes(report.finalRobustness),
});

describe('evaluation off the event loop, in a run', () => {
  it('the worker gives the run exactly the in-process numbers; robustness overlaps the next round; the worker ends with the run', async () => {
    const worker = await run('worker');
    const inProcess = await run('in-process');
    expect(worker.inWorker).toBe(true);
    expect(inProcess.inWorker).toBe(false);
    for (const r of [worker, inProcess]) {
      expect(r.report.status).toBe('complete');
      expect(r.report.rounds.map((x) => Boolean(x.robustness))).toEqual([true, true, true]);
    }
    expect(numbers(worker.report)).toEqual(numbers(inProcess.report));
    // Every round's robustness evaluation is in its own record, the final one also as finalRobustness.
    expect(worker.report.finalRobustness).toEqual(worker.report.rounds[2].robustness);

    // A non-final round's evaluation ends after the next round has started (it overlapped it); the final
    // round's is awaited inside the round and reported with its round-end.
    const order = worker.events
      .filter((e) => e.type === 'round-start' || e.type === 'round-end' || e.type === 'robustness-end' || e.type === 'complete')
      .map((e) => (e.type === 'round-start' || e.type === 'robustness-end' ? `${e.type}:${e.round}` : e.type === 'round-end' ? `round-end:${e.record.round}` : e.type));
    expect(order).toEqual(['round-start:1', 'round-end:1', 'round-start:2', 'robustness-end:1', 'round-end:2', 'round-start:3', 'robustness-end:2', 'round-end:3', 'complete']);
    const end1 = worker.events.find((e) => e.type === 'robustness-end' && e.round === 1) as Extract<EngineEvent, { type: 'robustness-end' }>;
    expect(withoutTimes(end1.robustness)).toEqual(withoutTimes(inProcess.report.rounds[0].robustness));

    // The evaluation worker was terminated when the run ended.
    await expect(worker.exited).resolves.toBeTypeOf('number');
  }, 240_000);
});
