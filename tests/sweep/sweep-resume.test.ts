import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSweep } from '../../cli/src/sweep/run-sweep.ts';
import { readSweepRecord, sweepRecordPath } from '../../cli/src/sweep/sweep-record.ts';
import { tempDir } from '../helpers/federation.ts';
import { fakeRunner, lrOf, settings } from './fake-trials.ts';

const space = { 'train.learningRate': [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] };

describe('a sweep resumes where it stopped', () => {
  it('after a kill mid-trial, re-running skips every finished trial and runs only the lost one onwards', async () => {
    const dir = tempDir();
    const s = settings({ space, maxRounds: 3, objective: 'clean' });
    // The first runner dies during its fourth trial: the sweep stops without recording it, as a kill would.
    const abort = new AbortController();
    const first = fakeRunner((c) => {
      if (first.calls.length === 4) {
        // A killed trial leaves a half-written run directory behind.
        mkdirSync(join(c.options.out, c.runId), { recursive: true });
        writeFileSync(join(c.options.out, c.runId, 'partial'), 'x');
        abort.abort();
        throw new Error('killed');
      }
      return [lrOf(c), 0.5];
    });
    await expect(runSweep({ dir, settings: s, runSimulation: first.run, signal: abort.signal })).rejects.toThrow(/killed/);
    const stopped = readSweepRecord(dir)!;
    expect(stopped.status).toBe('running');
    expect(stopped.results.map((r) => r.trial)).toEqual([0, 1, 2]);

    const second = fakeRunner((c) => [lrOf(c), 0.5]);
    const events: string[] = [];
    const record = await runSweep({ dir, settings: s, runSimulation: second.run, onEvent: (e) => events.push(e.kind) });
    // Trials 0–2 are not run again; 3–5 run at rung 0, then the best two (5, 4) at 3 rounds.
    expect(second.calls.map((c) => c.runId)).toEqual(['trial-003-r1', 'trial-004-r1', 'trial-005-r1', 'trial-005-r3', 'trial-004-r3']);
    expect(events.filter((e) => e === 'trial-skip')).toHaveLength(3);
    expect(record.status).toBe('complete');
    expect(record.results).toHaveLength(8);
    // The lost trial's leftovers are gone: it ran again from the start.
    expect(existsSync(join(dir, 'runs', 'trial-003-r1', 'partial'))).toBe(false);
    // The first three results are the ones the first runner recorded, untouched.
    expect(record.results.slice(0, 3)).toEqual(stopped.results);
  });

  it('settings equal but for the order of their keys are the same sweep', async () => {
    const dir = tempDir();
    const a = settings({ space, maxRounds: 1, base: { sites: 2, config: { train: { epochs: 2, batchSize: 8 }, federatedEvaluation: 'never' } } });
    const b = settings({ space, maxRounds: 1, base: { config: { federatedEvaluation: 'never', train: { batchSize: 8, epochs: 2 } }, sites: 2 } });
    await runSweep({ dir, settings: a, runSimulation: fakeRunner(() => [0.5, 0.5]).run });
    const again = fakeRunner(() => [0.5, 0.5]);
    await runSweep({ dir, settings: b, runSimulation: again.run });
    expect(again.calls).toHaveLength(0);
    await expect(runSweep({ dir, settings: settings({ space, maxRounds: 1, base: { sites: 2, config: { train: { epochs: 3, batchSize: 8 }, federatedEvaluation: 'never' } } }), runSimulation: again.run })).rejects.toThrow(/differ in base/);
  });

  it('re-running a finished sweep runs nothing', async () => {
    const dir = tempDir();
    const s = settings({ space, maxRounds: 3 });
    await runSweep({ dir, settings: s, runSimulation: fakeRunner(() => [0.5, 0.5]).run });
    const again = fakeRunner(() => [0.5, 0.5]);
    await runSweep({ dir, settings: s, runSimulation: again.run });
    expect(again.calls).toHaveLength(0);
  });

  it('a random sweep resumed from its stored settings draws the same trials', async () => {
    const dir = tempDir();
    const s = settings({ space: { 'train.learningRate': { min: 0.001, max: 0.1, log: true } }, search: 'random', trials: 4, seed: 9, maxRounds: 1 });
    const abort = new AbortController();
    const first = fakeRunner(() => {
      if (first.calls.length === 3) abort.abort();
      return [0.5, 0.5];
    });
    await expect(runSweep({ dir, settings: s, runSimulation: first.run, signal: abort.signal })).rejects.toThrow(/sweep stopped/);
    const stored = readSweepRecord(dir)!;
    const second = fakeRunner(() => [0.5, 0.5]);
    await runSweep({ dir, settings: stored.settings, runSimulation: second.run });
    expect(second.calls.map((c) => c.runId)).toEqual(['trial-002-r1', 'trial-003-r1']);
    expect(lrOf(second.calls[1])).toBe(stored.trials[3].params['train.learningRate']);
  });

  it('refuses a directory holding another sweep, naming what differs, and a file that is no sweep record', async () => {
    const dir = tempDir();
    await runSweep({ dir, settings: settings({ space, maxRounds: 1 }), runSimulation: fakeRunner(() => [0.5, 0.5]).run });
    await expect(runSweep({ dir, settings: settings({ space, maxRounds: 1, eta: 4 }), runSimulation: fakeRunner(() => [0.5, 0.5]).run })).rejects.toThrow(/holds another sweep \(its settings differ in eta\)/);
    writeFileSync(sweepRecordPath(dir), JSON.stringify({ version: 1, settings: {} }));
    await expect(runSweep({ dir, settings: settings({ space }), runSimulation: fakeRunner(() => [0.5, 0.5]).run })).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/is not a sweep record/) });
    writeFileSync(sweepRecordPath(dir), '{');
    expect(() => readSweepRecord(dir)).toThrow(/not valid JSON/);
  });

  it('sweep.json is rewritten after every trial: each write holds all trials finished so far', async () => {
    const dir = tempDir();
    const seen: number[] = [];
    const runner = fakeRunner(() => {
      if (existsSync(sweepRecordPath(dir))) seen.push(JSON.parse(readFileSync(sweepRecordPath(dir), 'utf8')).results.length);
      return [0.5, 0.5];
    });
    await runSweep({ dir, settings: settings({ space, maxRounds: 1 }), runSimulation: runner.run });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('a sweep record edited by hand', () => {
  it('a search space the command line refuses is refused on resume (an own field, a path through a prototype)', async () => {
    const dir = tempDir();
    await runSweep({ dir, settings: settings({ space, maxRounds: 1 }), runSimulation: fakeRunner(() => [0.5, 0.5]).run });
    const raw = JSON.parse(readFileSync(sweepRecordPath(dir), 'utf8'));
    for (const key of ['constructor.prototype.polluted', 'rounds']) {
      writeFileSync(sweepRecordPath(dir), JSON.stringify({ ...raw, settings: { ...raw.settings, space: { [key]: [1, 2] } } }));
      expect(() => readSweepRecord(dir), key).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('(settings.space)') }));
    }
  });

  it('results that are not the plan\'s — a trial it lacks, other parameters, another rung\'s rounds — are dropped, said once, and their trials run again', async () => {
    const dir = tempDir();
    const s = settings({ space, maxRounds: 1 });
    await runSweep({ dir, settings: s, runSimulation: fakeRunner((c) => [lrOf(c), 0.5]).run });
    const raw = JSON.parse(readFileSync(sweepRecordPath(dir), 'utf8'));
    const results = raw.results as Array<{ trial: number; params: Record<string, unknown>; rounds: number; clean: number; robust: number; score: number }>;
    // A phantom trial on the front, trial 0 with other parameters, trial 1 recorded at other rounds.
    const phantom = { ...results[2], trial: 1000, clean: 1, robust: 1, score: 1e308 };
    results[0] = { ...results[0], params: { 'train.learningRate': 0.9 } };
    results[1] = { ...results[1], rounds: 7 };
    writeFileSync(sweepRecordPath(dir), JSON.stringify({ ...raw, results: [...results, phantom], status: 'running' }));
    const again = fakeRunner((c) => [lrOf(c), 0.5]);
    const events: Array<{ kind: string; count?: number }> = [];
    const record = await runSweep({ dir, settings: s, runSimulation: again.run, onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.kind === 'dropped')).toEqual([{ kind: 'dropped', count: 3 }]);
    expect(again.calls.map((c) => c.runId)).toEqual(['trial-000-r1', 'trial-001-r1']);
    expect(record.results.map((r) => r.trial).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(record.front).not.toContain(1000);
    expect(record.results.find((r) => r.trial === 0)!.params).toEqual({ 'train.learningRate': 0.1 });
  });
});
