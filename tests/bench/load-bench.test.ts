import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { startCoordinator } from '@fedtune/coordinator';
import { selectNodeBackend } from '@fedtune/shared/node';
import type { CoordinatorLink, Dataset } from '@fedtune/shared';
import { lightSite, newLightSiteCounters } from '../../bench/load-light-site.ts';
import { loadFailures } from '../../bench/load-failures.ts';

const FEATURES = 6;
const CLASSES = 3;

function smallModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [FEATURES], units: 4, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return model;
}

function holdout(n = 12): Dataset {
  const x = new Float32Array(n * FEATURES).map((_, i) => Math.sin(i));
  const y = new Int32Array(n).map((_, i) => i % CLASSES);
  return { x, y, featureShape: [FEATURES], numClasses: CLASSES };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('bench:load light site (bench/load-light-site.ts)', () => {
  it('joins a real coordinator over socket.io by answering the signed terms, and carries a 2-round run to completion', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'load-light-'));
    dirs.push(runsDir);
    const backend = await selectNodeBackend();
    const joined: string[] = [];
    const coordinator = await startCoordinator({
      runsDir,
      model: smallModel(),
      architecture: 'bench-dense',
      holdout: holdout(),
      backend: backend.backend,
      transport: 'socket',
      apiRateLimit: false,
      onEvent: (e) => {
        if (e.type === 'site-joined') joined.push(e.siteId);
      },
      config: { runId: 'light-sites', rounds: 2, minSites: 5, seed: 1, roundTimeoutMs: 30_000, joinTimeoutMs: 30_000, robustness: { when: 'never' }, federatedEvaluation: 'final' },
    });
    const counters = newLightSiteCounters();
    const links: CoordinatorLink[] = [];
    try {
      for (let k = 0; k < 5; k++) links.push(await lightSite({ url: coordinator.url!, siteId: `light-${k + 1}`, counters }));
      const report = await coordinator.done;
      expect(report.status).toBe('complete');
      expect(report.rounds).toHaveLength(2);
      for (const round of report.rounds) expect(round.accepted.map((a) => a.siteId).sort()).toEqual(['light-1', 'light-2', 'light-3', 'light-4', 'light-5']);
      expect(joined.sort()).toEqual(['light-1', 'light-2', 'light-3', 'light-4', 'light-5']);
      expect(counters).toMatchObject({ acceptedTerms: 5, refusedTerms: 0, rejected: 0, fits: 10 });
      // The final federated evaluation was answered by every site: its metrics are theirs.
      expect(report.rounds.at(-1)!.federated!.sites.map((s) => s.siteId).sort()).toEqual(['light-1', 'light-2', 'light-3', 'light-4', 'light-5']);
      expect(report.rounds.at(-1)!.federated!.accuracy).toBe(0.5);
    } finally {
      for (const link of links) link.close();
      await coordinator.close();
    }
  }, 60_000);
});

describe('bench:load failures (bench/load-failures.ts)', () => {
  const ok = { sites: 10, rounds: 3, roundsCompleted: 3, status: 'complete' };
  it.each([
    ['every round complete', ok, []],
    ['aborted run', { ...ok, roundsCompleted: 0, status: 'aborted', aborted: 'only 0 of 10\njoined' }, ['bench:load: 10 sites: 0 of 3 rounds, run aborted: only 0 of 10 joined']],
    ['complete but fewer rounds', { ...ok, roundsCompleted: 2 }, ['bench:load: 10 sites: 2 of 3 rounds, run complete']],
    ['complete with an abort note (sites rejected)', { ...ok, aborted: 'sites received 2 rejections' }, ['bench:load: 10 sites: 3 of 3 rounds, run complete: sites received 2 rejections']],
    ['a huge reason is clipped', { ...ok, status: 'aborted', aborted: 'x'.repeat(5000) }, [`bench:load: 10 sites: 3 of 3 rounds, run aborted: ${'x'.repeat(300)}`]],
  ])('%s', (_name, outcome, lines) => {
    expect(loadFailures([outcome])).toEqual(lines);
  });

  it('one line per failed size, in order', () => {
    expect(loadFailures([{ ...ok, sites: 1, status: 'aborted' }, ok, { ...ok, sites: 3, status: 'stopped' }])).toEqual(['bench:load: 1 sites: 3 of 3 rounds, run aborted', 'bench:load: 3 sites: 3 of 3 rounds, run stopped']);
  });
});

describe('npm run bench:load smoke run (real child processes)', () => {
  it('3 sites, 1 round, a tiny model: exits 0 and writes a result with every site joined and targets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'load-smoke-'));
    dirs.push(dir);
    const out = join(dir, 'load.json');
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/load.ts', '--sites', '3', '--rounds', '1', '--hidden', '4', '--features', '8', '--classes', '3', '--out', out], { timeout: 280_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(stderr).not.toContain('bench:load:');
    expect(code).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.results[0]).toMatchObject({ sites: 3, roundsCompleted: 1, status: 'complete', acceptedShare: 1 });
    expect(result.results[0].aborted).toBeUndefined();
    expect(result.targets.map((t: { target: string }) => t.target)).toEqual(['health-check p99, worst round, 3 sites']);
    expect(result.loadAverage.start).toHaveLength(3);
  }, 300_000);
});

describe('npm run bench:load fails loudly when sites do not join', () => {
  it('sites that never answer the terms: exit 1, one clear line naming the join, no result file, within --join-timeout-ms', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'load-fail-'));
    dirs.push(dir);
    const out = join(dir, 'load.json');
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'bench/load.ts', '--sites', '2', '--rounds', '1', '--hidden', '4', '--features', '8', '--classes', '3', '--join-timeout-ms', '3000', '--sites-ignore-terms', '--out', out], { timeout: 280_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n').filter((l) => l.startsWith('bench:load:'));
    expect(lines).toEqual(['bench:load: 2 sites: only 0 of 2 joined the run within 3000 ms of connecting (did they answer the run\'s terms?)']);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(() => readFileSync(out)).toThrow();
  }, 300_000);
});
