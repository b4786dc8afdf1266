import { join } from 'node:path';
import { deepMerge, hasPretrainedModel, missingPretrainedModelError, type PartialRunConfigInput, type RunConfig } from '@fedtune/coordinator';
import { DEFAULT_EPSILONS, FedtuneError, LearningRateSchedule, parsePartitionSpec, sameEps } from '@fedtune/shared';
import { simulationRunConfig, type SimulationOptions } from '../simulation/run-simulation.ts';
import type { TrialParams } from './grid-search.ts';
import { isSimulationParam } from './search-space.ts';
import type { SweepSettings } from './sweep-settings.ts';

/** The run id of trial `trial` at `rounds` rounds: its run directory is `<sweep>/runs/<runId>`. */
export function trialRunId(trial: number, rounds: number): string {
  return `trial-${String(trial).padStart(3, '0')}-r${rounds}`;
}

/** Where a sweep's trial runs go. */
export function trialRunsDir(sweepDir: string): string {
  return join(sweepDir, 'runs');
}

/** `train.adversarial.eps` = v → `{ train: { adversarial: { eps: v } } }`. */
function atPath(key: string, value: unknown): Record<string, unknown> {
  return key
    .split('.')
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

/** The run-config part of a trial's parameters, as a partial config. */
export function runConfigParams(params: TrialParams): PartialRunConfigInput {
  return deepMerge(...Object.entries(params).filter(([k]) => !isSimulationParam(k)).map(([k, v]) => atPath(k, v))) as PartialRunConfigInput;
}

/**
 * The simulation a trial runs: the sweep's base federation with the trial's simulation parameters, and the
 * run config layered as defaults < the sweep's own (a final robustness evaluation) < base config < the
 * trial's parameters < the rung's rounds and the trial's run id. The PGD list always includes robustEps.
 */
export function trialSimulationOptions(settings: SweepSettings, sweepDir: string, trial: number, params: TrialParams, rounds: number): SimulationOptions {
  const { base } = settings;
  const config = deepMerge({ robustness: { when: 'final' } }, base.config, runConfigParams(params), { rounds, runId: trialRunId(trial, rounds) }) as PartialRunConfigInput & { robustness: Record<string, unknown> };
  // A step schedule acts from its EVERY-th round: in a rung shorter than that the rate stays, and later rungs see it
  // change (the sweep checks it against --max-rounds). It goes under the rung's rounds, where the refusal of a
  // schedule that never changes the rate (coordinator/src/config/inactive-run-config.ts) does not look.
  const { learningRateSchedule: given, ...train } = (config.train ?? {}) as NonNullable<PartialRunConfigInput['train']>;
  const schedule = given === undefined ? undefined : LearningRateSchedule.safeParse(given);
  const learningRateSchedule = schedule?.success ? schedule.data : undefined; // a bad one stays, for the schema's message
  if (learningRateSchedule !== undefined) config.train = train;
  // Likewise an ε warm-up longer than a short rung: that rung trains below ε, later ones reach it (the sweep checks
  // the warm-up against --max-rounds); it goes under the rung's rounds too.
  const adversarial = (config.train as { adversarial?: { warmupRounds?: number } } | undefined)?.adversarial;
  const rungInWarmup = adversarial?.warmupRounds !== undefined && adversarial.warmupRounds > rounds;
  if (rungInWarmup) config.train = Object.fromEntries(Object.entries(config.train!).filter(([k]) => k !== 'adversarial')) as typeof config.train;
  const pgd = config.robustness.pgd;
  if (pgd === false) throw new FedtuneError('config', 'a sweep needs the PGD evaluation: robustness.pgd cannot be false');
  const list: number[] = Array.isArray(pgd) ? [...(pgd as number[])] : [...DEFAULT_EPSILONS];
  if (!list.some((e) => sameEps(e, settings.robustEps))) list.push(settings.robustEps);
  config.robustness = { ...config.robustness, pgd: list };
  return {
    sites: (params.sites as number | undefined) ?? base.sites,
    partition: (params.partition as string | undefined) ?? base.partition,
    architecture: (params.arch as string | undefined) ?? base.arch,
    featureShift: (params.featureShift as boolean | undefined) ?? base.featureShift,
    transport: base.transport,
    out: trialRunsDir(sweepDir),
    ...(learningRateSchedule !== undefined || rungInWarmup
      ? { trainExtras: { ...(learningRateSchedule !== undefined ? { learningRateSchedule } : {}), ...(rungInWarmup ? { adversarial } : {}) } as SimulationOptions['trainExtras'] }
      : {}),
    config,
  };
}

/**
 * Checks a trial before anything runs: its simulation options and its whole run config (the RunConfig
 * schema's own message, with the trial's parameters), so a bad value stops the sweep at once.
 */
export function checkTrial(options: SimulationOptions, params: TrialParams): RunConfig {
  const label = Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
    .slice(0, 300);
  const fail = (message: string): never => {
    throw new FedtuneError('config', `sweep trial ${label}: ${message}`);
  };
  if (!Number.isInteger(options.sites) || options.sites < 1 || options.sites > 1000) fail(`sites must be an integer in 1..1000 (got ${String(options.sites).slice(0, 40)})`);
  if (options.featureShift !== undefined && typeof options.featureShift !== 'boolean') fail('featureShift must be true or false');
  if (options.partition !== undefined) {
    if (typeof options.partition !== 'string') fail('partition must be a partition spec such as dirichlet:0.5');
    try {
      parsePartitionSpec(options.partition);
    } catch (err) {
      fail((err as Error).message.slice(0, 300));
    }
  }
  const arch = options.architecture ?? 'mlp';
  if (typeof arch !== 'string' || !hasPretrainedModel(arch)) fail(missingPretrainedModelError(String(arch)).message);
  let config: RunConfig;
  try {
    config = simulationRunConfig(options);
  } catch (err) {
    return fail((err as Error).message.replace(/^invalid run configuration: /, '').replace(/(^|; )command line(?: --[\w-]+)?: /g, '$1').slice(0, 600));
  }
  if (config.robustness.when === 'never') fail('a sweep needs the final robustness evaluation: robustness.when cannot be never');
  return config;
}
