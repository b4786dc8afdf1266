import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore, loadModelDir, mergeRunConfig, pretrainedModelDir, resumeRunConfig, RunDatabase, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import { deriveSeed, MemoryNetwork, siteName, SiteClient, splitDataset, type RunReport } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/** Writes a checkpoint of round 1 for a run started with `started` (what a killed coordinator leaves). */
async function checkpointedRun(runsDir: string, started: Partial<RunConfigInput>): Promise<void> {
  const config = mergeRunConfig(undefined, { runId: 'r1', ...started } as never);
  const report = { schemaVersion: 1, runId: 'r1', status: 'running', startedAt: '', updatedAt: '', config, backend: 'cpu', model: { architecture: 'mlp', parameters: 2 }, rounds: [] } as unknown as RunReport;
  await new CheckpointStore(join(runsDir, 'r1')).write({ runId: 'r1', round: 1, weights: { manifest: [{ name: 'w', shape: [2], dtype: 'float32' }], arrays: [new Float32Array(2)] }, strategyState: null, rng: {}, report });
}

describe('resuming takes the run\'s own settings from its checkpoint', () => {
  it('a bare resume continues with the settings the run was started with, not the defaults', async () => {
    const runsDir = tempDir();
    await checkpointedRun(runsDir, { rounds: 6, minSites: 3, train: { epochs: 3 } as never });
    const { config, changes } = resumeRunConfig(runsDir, 'r1', { flags: { runId: 'r1', train: {} } });
    expect(config.rounds).toBe(6);
    expect(config.minSites).toBe(3);
    expect(config.train.epochs).toBe(3);
    expect(changes).toEqual([]);
  });

  it('flags given on resume override the checkpointed settings, and each difference is listed', async () => {
    const runsDir = tempDir();
    await checkpointedRun(runsDir, { rounds: 6, minSites: 3, train: { epochs: 3 } as never });
    const { config, changes } = resumeRunConfig(runsDir, 'r1', { flags: { runId: 'r1', rounds: 8, train: { epochs: 3 } } });
    expect(config.rounds).toBe(8);
    expect(config.train.epochs).toBe(3);
    expect(changes).toEqual([{ field: 'rounds', from: 6, to: 8 }]);
  });

  it('a config file given on resume overrides too, and flags override the file', async () => {
    const runsDir = tempDir();
    await checkpointedRun(runsDir, { rounds: 6, seed: 9 });
    const file = { path: 'f.yaml', format: 'yaml' as const, values: { rounds: 7, seed: 11 }, locate: () => undefined };
    const { config, changes } = resumeRunConfig(runsDir, 'r1', { file, flags: { runId: 'r1', seed: 12 } });
    expect(config.rounds).toBe(7);
    expect(config.seed).toBe(12);
    expect(changes.map((c) => c.field).sort()).toEqual(['rounds', 'seed']);
  });

  it('a run without a checkpoint cannot be resumed: a typed error naming the run', () => {
    expect(() => resumeRunConfig(tempDir(), 'nope')).toThrow(expect.objectContaining({ code: 'not_found', message: expect.stringMatching(/run nope has no usable checkpoint/) }));
  });
});

async function federation(o: { runsDir: string; rounds: number; resume?: boolean; onRoundEnd?: (round: number, runDir: string) => void; configOverride?: Partial<RunConfigInput> }) {
  const backend = await selectNodeBackend();
  const memory = new MemoryNetwork();
  const runId = 'truth';
  const coordinator = await startCoordinator({
    runsDir: o.runsDir,
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 100),
    backend: backend.backend,
    transport: memory,
    database: true,
    resume: o.resume,
    onEvent: (e) => {
      if (e.type === 'round-end') o.onRoundEnd?.(e.record.round, join(o.runsDir, runId));
    },
    config: { runId, rounds: o.rounds, minSites: 2, seed: 4, robustness: { when: 'never' }, federatedEvaluation: 'never', rejoinGraceMs: 100, train: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' }, ...o.configOverride },
  });
  const datasets = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 4 });
  const sites = datasets.map((full, k) => new SiteClient({ policy: testSitePolicy(), siteId: siteName(k), connector: memory.connector(), data: splitDataset(head(full, 60), deriveSeed(4, 'split', siteName(k))), backend: backend.backend, runtime: 'node' }));
  const runs = sites.map((s) => s.run());
  const report = await coordinator.done;
  const outcomes = await Promise.all(runs);
  await coordinator.close();
  return { report, outcomes, runDir: join(o.runsDir, runId) };
}

describe('the checkpoint is the truth on resume', () => {
  it('a round the database lost (killed between the checkpoint and the database write) is recorded again; stray temporary files go', async () => {
    const runsDir = tempDir();
    const first = await federation({ runsDir, rounds: 2 });
    expect(first.report.status).toBe('complete');
    // What a kill between the checkpoint rename and the database write leaves: round 2 missing from the database…
    const db = new RunDatabase(join(runsDir, 'fedtune.db'));
    db.deleteRoundsAfter('truth', 1);
    expect(db.getRounds('truth').map((r) => r.round)).toEqual([1]);
    db.close();
    // …and temporary files of writers that died mid-write.
    writeFileSync(join(first.runDir, 'report.json.tmp-4242-1700000000000'), 'partial');
    writeFileSync(join(first.runDir, 'checkpoints', '.round-3.ckpt.tmp-4242-deadbeef'), 'partial');
    mkdirSync(join(first.runDir, 'models', 'round-2'), { recursive: true });
    writeFileSync(join(first.runDir, 'models', 'round-2', 'weights.bin.tmp-4242-1700000000001'), 'partial');
    const resumed = await federation({ runsDir, rounds: 3, resume: true });
    expect(resumed.report.status, resumed.report.aborted).toBe('complete');
    const after = new RunDatabase(join(runsDir, 'fedtune.db'));
    expect(after.getRounds('truth').map((r) => r.round)).toEqual([1, 2, 3]);
    after.close();
    const stray = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));
    expect(stray(first.runDir)).toEqual([]);
    expect(stray(join(first.runDir, 'checkpoints'))).toEqual([]);
    expect(stray(join(first.runDir, 'models', 'round-2'))).toEqual([]);
  }, 300_000);

  it('the report of a resumed run shows the configuration it continues with', async () => {
    const runsDir = tempDir();
    await federation({ runsDir, rounds: 1 });
    const resumed = await federation({ runsDir, rounds: 2, resume: true, configOverride: { quorum: 0.9 } });
    expect(resumed.report.rounds).toHaveLength(2);
    expect((resumed.report.config as { rounds: number; quorum: number }).rounds).toBe(2);
    expect((resumed.report.config as { quorum: number }).quorum).toBe(0.9);
  }, 300_000);
});

describe('a persistence error mid-run', () => {
  it('stops the run cleanly with a typed reason, tells the sites, and never rejects', async () => {
    const runsDir = tempDir();
    const { report, outcomes } = await federation({
      runsDir,
      rounds: 3,
      onRoundEnd: (round, runDir) => {
        // The report's path becomes a directory: the next report write fails (as on a read-only or full disk).
        if (round === 1) {
          rmSync(join(runDir, 'report.json'));
          mkdirSync(join(runDir, 'report.json'));
        }
      },
    });
    expect(report.status).toBe('aborted');
    // Reports are written off the round's critical path: round 1's failed write stops the run at the end of round 2.
    expect(report.aborted).toMatch(/cannot save the report after round 1/);
    expect(report.rounds).toHaveLength(2);
    for (const o of outcomes) {
      expect(o.completed).toBe(true);
      expect(o.complete?.aborted).toMatch(/cannot save/);
    }
    // The checkpoint of round 2 was written before the report failed: the run can be resumed.
    expect(existsSync(join(runsDir, 'truth', 'checkpoints', 'round-2.ckpt'))).toBe(true);
  }, 300_000);
});
