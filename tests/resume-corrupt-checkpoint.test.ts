import { readdirSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { MemoryNetwork, siteName, SiteClient, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from './helpers/federation.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

async function runOnce(runsDir: string, rounds: number, resume: boolean, warnings: string[]) {
  await selectNodeBackend();
  const net = new MemoryNetwork();
  const coordinator = await startCoordinator({
    runsDir,
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 300),
    backend: 'wasm',
    transport: net,
    resume,
    onWarning: (w) => warnings.push(w),
    config: { runId: 'ckpt-run', rounds, minSites: 2, seed: 4, federatedEvaluation: 'never', robustness: { when: 'never' } },
  });
  const data = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 4 });
  const sites = data.map((d, k) =>
    new SiteClient({ policy: testSitePolicy(), siteId: siteName(k), connector: net.connector(), data: splitDataset(head(d, 150), k), backend: 'wasm', runtime: 'node' }).run(),
  );
  const report = await coordinator.done;
  await Promise.all(sites);
  await coordinator.close();
  return { report, runDir: coordinator.runDir };
}

describe('resume with a damaged latest checkpoint', () => {
  it('detects the truncated file by its checksum, warns, and resumes from the previous good round', async () => {
    const runsDir = tempDir();
    const warnings: string[] = [];
    const first = await runOnce(runsDir, 3, false, warnings);
    expect(first.report.rounds).toHaveLength(3);
    const ckptDir = join(first.runDir, 'checkpoints');
    const files = () => readdirSync(ckptDir).sort();
    // Rounds 1 and 2 are settled by round 3: their records are in the run's settled-rounds file, which the checkpoints refer to.
    expect(files()).toEqual(['round-1.ckpt', 'round-2.ckpt', 'round-3.ckpt', expect.stringMatching(/^settled-rounds-[0-9a-f]{8}\.jsonl$/)]);
    const settledFile = files()[3];
    const latest = join(ckptDir, 'round-3.ckpt');
    truncateSync(latest, Math.floor(statSync(latest).size / 2));

    const second = await runOnce(runsDir, 4, true, warnings);
    expect(warnings.some((w) => /round 3/.test(w))).toBe(true);
    expect(second.report.status).toBe('complete');
    // Round 3 is redone from round 2's checkpoint; no round appears twice.
    expect(second.report.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(second.report.rounds[2].global.accuracy).toBeCloseTo(first.report.rounds[2].global.accuracy, 10);
    // The resumed run continued the same settled-rounds file after round 2's prefix.
    expect(files()).toEqual(['round-2.ckpt', 'round-3.ckpt', 'round-4.ckpt', settledFile]);
  });
});
