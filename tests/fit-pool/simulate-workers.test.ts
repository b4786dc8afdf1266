import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FitPool } from '@fedtune/client-node';
import { runSimulation, type SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';

const out = tempDir();
const BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin', 'fedtune.mjs');
const small: SimulationOptions = {
  sites: 3,
  rounds: 2,
  seed: 3,
  out,
  transport: 'memory',
  maxExamples: 48,
  backend: 'wasm',
  federatedEvaluation: 'never',
  robustness: { when: 'never' },
};

/** One simulation with `workers` threads: its report, the final global weights and the pool (if any) it trained on. */
async function simulate(workers: number | 'auto' | undefined, extra: Partial<SimulationOptions>) {
  let pool: FitPool | undefined;
  const lines: string[] = [];
  let fits = 0;
  const r = await runSimulation({ ...small, ...extra, ...(workers === undefined ? {} : { workers }), onFitPool: (p) => (pool = p), onLog: (l) => lines.push(l), onSiteEvent: (_, e) => void (e.type === 'fit-start' && fits++) });
  expect(r.report.status, r.report.aborted).toBe('complete');
  const weights = readFileSync(join(r.runDir, r.report.final!.modelDir!, 'weights.bin'));
  return { report: r.report, weights, pool, lines, fits };
}

describe('fedtune simulate --workers 2: the same federation as --workers 1, on two threads', () => {
  it.each<[string, Partial<SimulationOptions>]>([
    ['plain fine-tuning', {}],
    ['adversarial training (FGSM on half of each batch)', { trainExtras: { adversarial: { method: 'fgsm', share: 0.5, eps: 0.05 } } }],
    ['early stopping on the sites\' validation splits', { epochs: 3, trainExtras: { earlyStopping: { patience: 1 } } }],
  ])('%s: identical global weights and round metrics; the fits spread over both threads', async (_, extra) => {
    const one = await simulate(1, extra);
    const two = await simulate(2, extra);
    expect(one.pool, '--workers 1 starts no thread').toBeUndefined();
    expect(one.lines).toEqual(['training the sites on the main thread (--workers 1)']);
    expect(two.lines).toEqual(['training the sites on 2 worker threads (--workers 2)']);
    expect(two.pool!.created).toBe(2);
    const perThread = two.pool!.fitsPerThread;
    expect(perThread).toHaveLength(2);
    // Every fit of every site (a refused aggregate's round trains again) ran on a thread.
    expect(two.fits).toBeGreaterThanOrEqual(small.sites * small.rounds!);
    expect(perThread.reduce((s, n) => s + n, 0)).toBe(two.fits);
    for (const n of perThread) expect(n).toBeGreaterThan(0);
    // Training happened: the global model moved from the pretrained one.
    expect(one.report.final!.accuracy).not.toBe(one.report.pretrained!.accuracy);
    expect(Buffer.compare(two.weights, one.weights)).toBe(0);
    const metrics = (r: typeof one.report) => r.rounds.map((x) => ({ attempts: x.attempts, global: x.global, accepted: x.accepted.map(({ durationMs: _, ...a }) => a).sort((a, b) => a.siteId.localeCompare(b.siteId)) }));
    expect(metrics(two.report)).toEqual(metrics(one.report));
  });
});

describe('fedtune simulate --workers auto (the default): threads for long fits only', () => {
  const cores = availableParallelism();
  it.each<[string, number | 'auto' | undefined, Partial<SimulationOptions>, number, RegExp]>([
    // The built-in MLP: 0.10 M multiply-accumulates per example.
    ['the default MLP, plain: the main thread', undefined, {}, 1, /^training the sites on the main thread \(--workers auto: 0\.10 M multiply-accumulates per training example, too short a fit for threads\)$/],
    ['the MLP with FGSM on every example (2 passes, 0.20 M): the main thread', 'auto', { trainExtras: { adversarial: { method: 'fgsm', share: 1, eps: 0.05 } } }, 1, /main thread \(--workers auto: 0\.20 M .*\(2 passes: adversarial training\), too short/],
    ['the MLP with PGD-7 on every example (8 passes, 0.81 M): every core, at most one thread per site', undefined, { trainExtras: { adversarial: { method: 'pgd', share: 1, eps: 0.05, steps: 7 } } }, Math.min(cores, 3), /\(--workers auto: 0\.81 M multiply-accumulates per training example \(8 passes: adversarial training\), /],
    ['the cnn-wide, plain (0.76 M)', 'auto', { architecture: 'cnn-wide', rounds: 1 }, Math.min(cores, 3), /\(--workers auto: 0\.76 M multiply-accumulates per training example, /],
    ['an explicit --workers 1 wins over a long fit', 1, { trainExtras: { adversarial: { method: 'pgd', share: 1, eps: 0.05, steps: 7 } } }, 1, /^training the sites on the main thread \(--workers 1\)$/],
  ])('%s', async (_, workers, extra, threads, line) => {
    const r = await simulate(workers, { ...extra, rounds: 1 });
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(line);
    if (threads === 1) expect(r.pool, 'no thread started').toBeUndefined();
    else {
      expect(r.pool!.created).toBe(threads);
      expect(r.pool!.fitsPerThread.reduce((s, n) => s + n, 0)).toBe(r.fits);
    }
  });
});

describe('the compiled-or-source `fedtune simulate --workers`', () => {
  it('prints one line with the thread count, trains, closes its threads and exits', () => {
    const dir = tempDir();
    const r = spawnSync(
      process.execPath,
      [BIN, 'simulate', '--workers', '2', '--sites', '2', '--rounds', '1', '--max-examples', '16', '--federated-eval', 'never', '--robustness', 'never', '--transport', 'memory', '--backend', 'wasm', '--out', dir],
      { encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } },
    );
    expect(r.signal, 'the process exited by itself').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => /worker threads|main thread/.test(l))).toEqual(['training the sites on 2 worker threads (--workers 2)']);
    expect(r.stdout).toMatch(/report\.json/);
  });

  it.each([
    ['0', /workers must be auto or an integer ≥ 1/],
    ['300', /--workers: .*256/],
  ])('--workers %s: one clear line, no stack trace', (value, message) => {
    const r = spawnSync(process.execPath, [BIN, 'simulate', '--workers', value, '--sites', '2', '--rounds', '1', '--transport', 'memory', '--out', tempDir()], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
