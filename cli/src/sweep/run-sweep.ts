import { rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FedtuneError } from '@fedtune/shared';
import { runSimulation, type SimulationOptions, type SimulationResult } from '../simulation/run-simulation.ts';
import { describeError } from '../ui/describe-error.ts';
import type { TrialParams } from './grid-search.ts';
import { objectiveScore } from './objective.ts';
import { paretoFront } from './pareto-front.ts';
import { promote } from './successive-halving.ts';
import { planSweep } from './sweep-plan.ts';
import { readSweepRecord, SWEEP_RECORD_VERSION, writeSweepRecord, type SweepRecord, type TrialResult } from './sweep-record.ts';
import type { SweepSettings } from './sweep-settings.ts';
import { trialMetrics } from './trial-metrics.ts';
import { checkTrial, trialRunsDir, trialSimulationOptions } from './trial-simulation.ts';

/** What a sweep tells its caller as it goes. */
export type SweepEvent =
  | { kind: 'plan'; trials: number; rungs: number[]; resumed: number }
  | { kind: 'rung'; rung: number; rounds: number; trials: number[] }
  | { kind: 'trial-start'; trial: number; rung: number; rounds: number; params: TrialParams }
  | { kind: 'trial-skip'; result: TrialResult }
  | { kind: 'trial-done'; result: TrialResult }
  /** Recorded results that are not this plan's (another trial, other parameters, another rung's rounds): dropped. */
  | { kind: 'dropped'; count: number };

export interface RunSweepOptions {
  /** The sweep's directory: sweep.json, sweep.html and runs/. */
  dir: string;
  settings: SweepSettings;
  /** tfjs backend of the trials (not part of the plan: a sweep may resume on another machine). */
  backend?: string;
  /** What runs one trial (tests pass their own). */
  runSimulation?: (options: SimulationOptions) => Promise<Pick<SimulationResult, 'report' | 'reportPath'>>;
  onEvent?: (event: SweepEvent) => void;
  /** Stops the sweep after the running trial returns, without recording it (as a kill would). */
  signal?: AbortSignal;
}

/** JSON with object keys sorted, so equal settings compare equal whatever order their keys were built in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

/** The top-level settings in which `a` and `b` differ. */
function differences(a: SweepSettings, b: SweepSettings): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])] as Array<keyof SweepSettings>;
  return keys.filter((k) => canonical(a[k]) !== canonical(b[k]));
}

/** Each trial at its last finished rung, as the Pareto front and the summary see it. */
export function latestResults(results: readonly TrialResult[]): TrialResult[] {
  const latest = new Map<number, TrialResult>();
  for (const r of results) if ((latest.get(r.trial)?.rung ?? -1) < r.rung) latest.set(r.trial, r);
  return [...latest.values()].sort((a, b) => a.trial - b.trial);
}

/** The front of the trials' latest complete results. */
export function frontOf(results: readonly TrialResult[]): number[] {
  const points = latestResults(results)
    .filter((r) => r.status === 'complete' && r.clean !== null && r.robust !== null)
    .map((r) => ({ trial: r.trial, clean: r.clean!, robust: r.robust! }));
  return paretoFront(points).map((p) => p.trial);
}

/**
 * Runs a sweep: every trial of the plan at the first rung, then successive halving up to the last, one
 * trial at a time. A trial at a later rung is re-run from the pretrained model with more rounds (same
 * seed), not continued from its checkpoint. sweep.json is rewritten atomically after every trial; a sweep
 * found in `dir` with the same settings is resumed (its finished trials are not re-run), one with other
 * settings is refused.
 */
export async function runSweep(options: RunSweepOptions): Promise<SweepRecord> {
  const { dir, settings, onEvent } = options;
  const run = options.runSimulation ?? runSimulation;
  const plan = planSweep(settings);
  const last = plan.rungs[plan.rungs.length - 1];
  // Every trial is checked before anything runs: a bad value stops the sweep now, not after hours.
  for (const t of plan.trials) checkTrial(trialSimulationOptions(settings, dir, t.trial, t.params, last), t.params);

  const existing = readSweepRecord(dir);
  if (existing) {
    const differ = differences(existing.settings, settings);
    if (differ.length) throw new FedtuneError('config', `${dir} holds another sweep (its settings differ in ${differ.join(', ')}): resume it with --resume ${dir}, or use another --out`);
  }
  // Recorded results count only where they are this plan's: a trial it has, with the same parameters, at a rung it
  // has with that rung's rounds. Others (a record edited by hand) are dropped and run again, never shown or promoted.
  const plannedParams = new Map(plan.trials.map((t) => [t.trial, canonical(t.params)]));
  const results = (existing?.results ?? []).filter((r) => plannedParams.get(r.trial) === canonical(r.params) && plan.rungs[r.rung] === r.rounds);
  const dropped = (existing?.results.length ?? 0) - results.length;
  if (dropped > 0) onEvent?.({ kind: 'dropped', count: dropped });
  const record: SweepRecord = { version: SWEEP_RECORD_VERSION, settings, rungs: plan.rungs, trials: plan.trials, results, front: [], status: 'running' };
  record.front = frontOf(record.results);
  await writeSweepRecord(dir, record);
  onEvent?.({ kind: 'plan', trials: plan.trials.length, rungs: plan.rungs, resumed: record.results.length });

  const paramsOf = new Map(plan.trials.map((t) => [t.trial, t.params]));
  let candidates = plan.trials.map((t) => t.trial);
  for (let rung = 0; rung < plan.rungs.length; rung++) {
    const rounds = plan.rungs[rung];
    if (rung > 0) {
      const previous = candidates.map((trial) => {
        const r = record.results.find((x) => x.trial === trial && x.rung === rung - 1)!;
        return { trial, score: r.score };
      });
      candidates = promote(previous, settings.eta);
    }
    onEvent?.({ kind: 'rung', rung, rounds, trials: candidates });
    for (const trial of candidates) {
      const done = record.results.find((x) => x.trial === trial && x.rung === rung);
      if (done) {
        onEvent?.({ kind: 'trial-skip', result: done });
        continue;
      }
      const params = paramsOf.get(trial)!;
      const simulation = { ...trialSimulationOptions(settings, dir, trial, params, rounds), backend: options.backend };
      const runId = String(simulation.config!.runId);
      // A run directory left by a killed sweep is the lost trial's: it is run again from the start.
      rmSync(join(trialRunsDir(dir), runId), { recursive: true, force: true });
      onEvent?.({ kind: 'trial-start', trial, rung, rounds, params });
      const started = Date.now();
      let result: TrialResult;
      try {
        const r = await run(simulation);
        const m = trialMetrics(r.report, settings.robustEps);
        result = { trial, rung, rounds, params, ...m, score: m.status === 'complete' ? objectiveScore(settings.objective, m) : null, durationMs: Date.now() - started, runId, reportPath: relative(dir, r.reportPath) };
      } catch (err) {
        if (options.signal?.aborted) throw err;
        result = { trial, rung, rounds, params, status: 'failed', clean: null, robust: null, ece: null, score: null, durationMs: Date.now() - started, runId, reportPath: null, error: describeError(err).replace(/\s+/g, ' ').slice(0, 600) };
      }
      if (options.signal?.aborted) throw new FedtuneError('internal', 'sweep stopped: the running trial was not recorded');
      record.results.push(result);
      record.front = frontOf(record.results);
      await writeSweepRecord(dir, record);
      onEvent?.({ kind: 'trial-done', result });
    }
  }
  record.status = 'complete';
  await writeSweepRecord(dir, record);
  return record;
}
