import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { sweepCommand } from '../../cli/src/commands/sweep-command.ts';
import { runSimulation, type SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import { readSweepRecord } from '../../cli/src/sweep/sweep-record.ts';
import { paretoFront } from '../../cli/src/sweep/pareto-front.ts';
import { latestResults, runSweep } from '../../cli/src/sweep/run-sweep.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * `fedtune sweep` end to end with real federations (2 sites on the in-memory network, real tfjs training
 * and robustness evaluation, kept small), in-process and as a real process killed mid-sweep and resumed.
 */

const dir = tempDir();
const reduced = join(dir, 'reduced.yaml');
writeFileSync(reduced, 'robustness:\n  examples: 40\n  adversarialExamples: 20\n  pgdSteps: 3\n  noise: false\n  corruptions: false\n  fgsm: false\n');
const SMALL = ['--sites', '2', '--max-examples', '32', '--federated-eval', 'never', '--config', reduced, '--backend', 'wasm'];

const logs: string[] = [];
beforeAll(() => void vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a.join(' '))));
afterAll(() => vi.restoreAllMocks());

describe('fedtune sweep over real simulated federations', () => {
  it('a 2-point grid with halving 1 → 2 rounds writes sweep.json and sweep.html that agree with the trials\' reports', async () => {
    const out = join(dir, 'grid');
    // The real simulation, counting live tensors after each trial: a sweep loops, so nothing may pile up.
    const tensors: number[] = [];
    const counted = async (o: SimulationOptions) => {
      const r = await runSimulation(o);
      tensors.push(tf.memory().numTensors);
      return r;
    };
    const command = sweepCommand({ runSweep, runSimulation: counted });
    command.exitOverride();
    await command.parseAsync(['--param', 'train.learningRate=0.001,0.05', '--min-rounds', '1', '--max-rounds', '2', '--eta', '2', '--out', out, ...SMALL], { from: 'user' });
    const record = readSweepRecord(out)!;
    expect(record.status).toBe('complete');
    expect(record.results.map((r) => [r.rung, r.rounds])).toEqual([[0, 1], [0, 1], [1, 2]]);
    for (const r of record.results) {
      expect(r.status).toBe('complete');
      const report = JSON.parse(readFileSync(join(out, r.reportPath!), 'utf8'));
      // What the sweep recorded is what the trial's own report says, and the trial ran what the sweep asked.
      expect(report.config.rounds).toBe(r.rounds);
      expect(report.config.train.learningRate).toBe(r.params['train.learningRate']);
      expect(report.rounds).toHaveLength(r.rounds);
      expect(r.clean).toBe(report.final.accuracy);
      // Read at the built-in task's headline ε on the scanners (the sweep's default robust ε).
      expect(record.settings.robustEps).toBe(0.06);
      expect(r.robust).toBe(report.finalRobustness.pgd.find((p: { eps: number }) => p.eps === 0.06).accuracy);
      // The saved model's ECE: after its temperature when the run fitted one (the built-in task calibrates on its holdout).
      expect(r.ece).toBe(report.finalRobustness.calibration?.eceAfter ?? report.finalRobustness.clean.ece);
      expect(r.score).toBeCloseTo((r.clean! + r.robust!) / 2, 12);
    }
    // The promoted trial is the better of the two by the balanced objective (ties to trial 0).
    const [a, b] = record.results;
    expect(record.results[2].trial).toBe(b.score! > a.score! ? 1 : 0);
    const latest = latestResults(record.results).map((r) => ({ trial: r.trial, clean: r.clean!, robust: r.robust! }));
    expect(record.front).toEqual(paretoFront(latest).map((p) => p.trial));
    const html = readFileSync(join(out, 'sweep.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html.match(/<circle /g)).toHaveLength(2);
    expect(html).toContain('Pareto front');
    expect(logs.join('\n')).toMatch(/rung 2\/2: 1 trial × 2 rounds/);
    expect(tensors).toHaveLength(3);
    expect(tensors[2]).toBeLessThanOrEqual(tensors[0]);
    expect(tensors[1]).toBeLessThanOrEqual(tensors[0]);
  }, 240_000);

  it('killed during its second trial, `fedtune sweep --resume DIR` keeps the first trial and runs only the rest', async () => {
    const out = join(dir, 'killed');
    const args = ['sweep', '--param', 'train.learningRate=0.001,0.05', '--max-rounds', '1', '--out', out, ...SMALL];
    const first = fedtune(args, (line, child) => {
      if (/trial 1 \(1 round\) train\.learningRate/.test(line)) child.kill('SIGKILL');
    });
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const stopped = readSweepRecord(out)!;
    expect(stopped.results.map((r) => r.trial)).toEqual([0]);

    const resumed = await fedtune(['sweep', '--resume', out, '--backend', 'wasm']).done;
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/trial 0 \(1 round\) already recorded/);
    expect(resumed.stdout).not.toMatch(/trial 0 \(1 round\) train\.learningRate/);
    expect(resumed.stdout).toMatch(/trial 1 \(1 round\) complete/);
    const record = readSweepRecord(out)!;
    expect(record.status).toBe('complete');
    expect(record.results[0]).toEqual(stopped.results[0]);
    expect(record.results.map((r) => r.trial)).toEqual([0, 1]);
    expect(existsSync(join(out, 'sweep.html'))).toBe(true);
  }, 240_000);

  it('Ctrl-C (SIGINT) during a trial: exit 130 with one line naming the record and the resume command', async () => {
    const out = join(dir, 'interrupted');
    const run = fedtune(['sweep', '--param', 'train.learningRate=0.001,0.05', '--max-rounds', '1', '--out', out, ...SMALL], (line, child) => {
      if (/trial 1 \(1 round\) train\.learningRate/.test(line)) child.kill('SIGINT');
    });
    const stopped = await run.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toBe('');
    expect(stopped.stdout.trim().split('\n').at(-1)).toBe(`stopped (SIGINT): the finished trials are kept in ${join(out, 'sweep.json')}; continue with \`fedtune sweep --resume ${out}\` (the trial that was running starts again)`);
    expect(readSweepRecord(out)!.results.map((r) => r.trial)).toEqual([0]);
  }, 240_000);

  it('a bad value is one clear line from the real CLI, before anything runs', async () => {
    const r = await fedtune(['sweep', '--param', 'train.learningRate=0.01,-1', '--out', join(dir, 'bad'), '--backend', 'wasm']).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^fedtune: config: sweep trial train\.learningRate=-1: train\.learningRate: Too small/);
    expect(existsSync(join(dir, 'bad', 'runs'))).toBe(false);
  }, 60_000);
});
