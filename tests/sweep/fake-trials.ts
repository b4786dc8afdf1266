import { join } from 'node:path';
import type { RunReport } from '@fedtune/shared';
import type { SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import type { TrialParams } from '../../cli/src/sweep/grid-search.ts';
import { SweepSettings, type SweepSettingsInput } from '../../cli/src/sweep/sweep-settings.ts';

/** A report as a finished trial returns it: clean accuracy, ECE and a PGD row at each ε (the same accuracy). */
export function fakeReport(clean: number, robust: number, eps: number | readonly number[] = 0.1): RunReport {
  return {
    status: 'complete',
    final: { accuracy: clean },
    finalRobustness: { clean: { accuracy: clean, ece: 0.05 }, pgd: [eps].flat().map((e) => ({ eps: e, steps: 3, stepSize: 0.01, accuracy: robust })) },
  } as unknown as RunReport;
}

/** The sweep parameters and rounds a runner was asked to run, read back from the simulation options. */
export interface RunCall {
  options: SimulationOptions;
  runId: string;
  rounds: number;
}

/**
 * A trial runner that trains nothing: it records each call and answers with `metrics(call)` (clean,
 * robust). Tests of planning, halving and resuming use it; the end-to-end tests use the real simulation.
 */
export function fakeRunner(metrics: (call: RunCall) => [number, number]) {
  const calls: RunCall[] = [];
  const run = async (options: SimulationOptions) => {
    const call = { options, runId: String(options.config!.runId), rounds: Number(options.config!.rounds) };
    calls.push(call);
    const [clean, robust] = metrics(call);
    // A row at every ε the trial's robustness evaluation was asked for (the sweep's robust ε among them).
    const pgd = (options.config as { robustness?: { pgd?: number[] } }).robustness?.pgd ?? [0.1];
    return { report: fakeReport(clean, robust, pgd), reportPath: join(options.out, call.runId, 'report.json') };
  };
  return { run, calls };
}

/** The learning rate a call ran with (the parameter most tests sweep). */
export const lrOf = (call: RunCall): number => Number((call.options.config as { train?: { learningRate?: number } }).train?.learningRate);

export function settings(input: Partial<SweepSettingsInput> & { space: SweepSettingsInput['space'] }): SweepSettings {
  return SweepSettings.parse({ seed: 42, ...input });
}

export type { TrialParams };
