import { refuseUnusableSweepDir } from './sweep-out-dir.ts';
import { rungRounds } from '../sweep/successive-halving.ts';
import { Command, Option } from 'commander';
import { deepMerge, pretrainedArchitectures, runConfigDefaults } from '@fedtune/coordinator';
import { FedtuneError, partitionKinds } from '@fedtune/shared';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { choiceOption, floatOption, intOption } from './options.ts';
import { refuseMissingInputPaths } from './input-paths.ts';
import { addRunConfigOptions, RUN_CONFIG_FLAG_NAMES, runConfigFile, runConfigFlags } from './run-config-flags.ts';
import { OBJECTIVES } from '../sweep/objective.ts';
import { combineSpaces, isSimulationParam, loadSearchSpaceFile, parseParamOption, type SearchSpace } from '../sweep/search-space.ts';
import { readSweepRecord, sweepRecordPath } from '../sweep/sweep-record.ts';
import { DEFAULT_RANDOM_TRIALS, SweepSettings, type SweepSettingsInput } from '../sweep/sweep-settings.ts';
import { runSweep, type RunSweepOptions, type SweepEvent } from '../sweep/run-sweep.ts';
import { describeParams, sweepTables } from '../sweep/sweep-table.ts';
import { writeSweepHtml } from '../sweep/sweep-html.ts';

/** What the sweep command calls to run (tests pass their own runner or a recording runSweep). */
export interface SweepDeps {
  runSweep: typeof runSweep;
  runSimulation?: RunSweepOptions['runSimulation'];
}

/** Run-config flags a sweep sets itself: the rungs decide the rounds, each trial gets its own run id. */
const SWEEP_OWN_FLAGS = ['--rounds', '--run-id'];

/** Flags that decide the plan: `--resume` takes them from sweep.json, so giving one with it is refused. */
const PLAN_FLAGS = ['space', 'param', 'search', 'trials', 'minRounds', 'maxRounds', 'eta', 'objective', 'robustEps', 'sites', 'partition', 'arch', 'featureShift', 'transport', 'config'];

const d = SweepSettings.parse({ space: {}, seed: 0 });

/** Whether the (nested) partial config `values` sets the dotted `field`. */
function sets(values: unknown, field: string): boolean {
  let value = values;
  for (const key of field.split('.')) {
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<string, unknown>)[key];
  }
  return value !== undefined;
}

/**
 * Settings a sweep would silently drop, refused with one line: a run flag or a --config field on a field a
 * searched parameter sets (trial-simulation.ts merges the searched values last), a simulation flag a parameter
 * varies, and rounds in the --config file (the rungs decide them).
 */
function refuseOverriddenSettings(command: Command, space: SearchSpace, file: ReturnType<typeof runConfigFile>, flags: Record<string, unknown>): void {
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  if (file && sets(file.values, 'rounds')) throw new FedtuneError('config', `${file.path} sets rounds, but a sweep's rounds are its rungs (--min-rounds, --max-rounds): drop rounds from the file`);
  for (const key of Object.keys(space)) {
    if (isSimulationParam(key)) {
      if (given(key)) throw new FedtuneError('config', `--param ${key} searches ${key}: --${key === 'featureShift' ? 'no-feature-shift' : key} would be overridden in every trial; give one of them`);
    } else if (sets(flags, key)) {
      throw new FedtuneError('config', `--param ${key} searches ${key}: ${RUN_CONFIG_FLAG_NAMES[key] ?? key} would be overridden in every trial; give one of them`);
    } else if (file && sets(file.values, key)) {
      throw new FedtuneError('config', `--param ${key} searches ${key}: its value in ${file.path} would be overridden in every trial; drop one of them`);
    }
  }
}

/** The sweep's settings from a parsed command line: its flags over SweepSettings' defaults, checked. */
export function sweepSettingsFromCommand(command: Command): SweepSettings {
  const o = command.opts();
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  const space: SearchSpace = combineSpaces(o.space ? loadSearchSpaceFile(o.space) : undefined, o.param);
  const file = runConfigFile(command);
  const flags = runConfigFlags(command);
  refuseOverriddenSettings(command, space, file, flags);
  const config = deepMerge(file?.values ?? {}, flags);
  const input: SweepSettingsInput = {
    space,
    search: o.search,
    trials: o.trials,
    seed: (config.seed as number | undefined) ?? runConfigDefaults().seed,
    minRounds: o.minRounds,
    maxRounds: o.maxRounds,
    eta: o.eta,
    objective: o.objective,
    robustEps: o.robustEps,
    base: { sites: o.sites, partition: o.partition, arch: o.arch, featureShift: given('featureShift') ? o.featureShift : undefined, transport: o.transport, config },
  };
  const parsed = SweepSettings.safeParse(JSON.parse(JSON.stringify(input)));
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new FedtuneError('config', `sweep: ${i.path.join('.') || 'settings'}: ${i.message}`);
  }
  // A rung shorter than EVERY keeps the rate (trial-simulation.ts); the last rung must see it change.
  const schedule = (config.train as { learningRateSchedule?: { kind: string; every?: number } } | undefined)?.learningRateSchedule;
  if (schedule?.kind === 'step' && schedule.every! >= parsed.data.maxRounds) {
    throw new FedtuneError('config', `--lr-schedule step:${schedule.every} never changes the rate: the sweep's longest trials have ${parsed.data.maxRounds} rounds (--max-rounds); give EVERY below it`);
  }
  // One rung (--min-rounds = --max-rounds): successive halving keeps every trial, so --eta would do nothing.
  if (given('eta') && rungRounds(parsed.data.minRounds, parsed.data.maxRounds, parsed.data.eta).length === 1) {
    throw new FedtuneError('config', `--eta has no effect here: it sets how many trials each rung keeps, and --min-rounds ${parsed.data.minRounds} = --max-rounds ${parsed.data.maxRounds} makes one rung`);
  }
  const warmup = (config.train as { adversarial?: { warmupRounds?: number } } | undefined)?.adversarial?.warmupRounds;
  if (warmup !== undefined && warmup > parsed.data.maxRounds) {
    throw new FedtuneError('config', `--adv-warmup ${warmup} ends after the sweep's longest trials (${parsed.data.maxRounds} rounds, --max-rounds): they would never train at ε; give at most ${parsed.data.maxRounds}`);
  }
  return parsed.data;
}

/** One progress line per event. */
export function progressLine(e: SweepEvent, total: { trials: number; rungs: number[] }): string | undefined {
  const metrics = (r: { clean: number | null; robust: number | null; ece: number | null }) =>
    `clean ${r.clean === null ? '-' : (100 * r.clean).toFixed(1) + '%'}, robust ${r.robust === null ? '-' : (100 * r.robust).toFixed(1) + '%'}, ECE ${r.ece === null ? '-' : r.ece.toFixed(3)}`;
  switch (e.kind) {
    case 'plan':
      return `sweep: ${e.trials} trials, rungs of ${e.rungs.join(' → ')} rounds${e.resumed ? ` (resuming: ${e.resumed} trial runs already recorded)` : ''}`;
    case 'rung':
      return `rung ${e.rung + 1}/${total.rungs.length}: ${e.trials.length} trial${e.trials.length === 1 ? '' : 's'} × ${e.rounds} round${e.rounds === 1 ? '' : 's'}`;
    case 'trial-start':
      return `  trial ${e.trial} (${e.rounds} round${e.rounds === 1 ? "" : "s"}) ${describeParams(e.params)} …`;
    case 'trial-skip':
      return `  trial ${e.result.trial} (${e.result.rounds} round${e.result.rounds === 1 ? "" : "s"}) already recorded: ${metrics(e.result)}`;
    case 'dropped':
      return `sweep.json held ${e.count} result${e.count === 1 ? '' : 's'} that are not this plan's (another trial, other parameters or another rung's rounds): dropped, their trials run again`;
    case 'trial-done':
      return `  trial ${e.result.trial} (${e.result.rounds} round${e.result.rounds === 1 ? "" : "s"}) ${e.result.status}${e.result.error ? ` (${e.result.error})` : ''}: ${metrics(e.result)} in ${(e.result.durationMs / 1000).toFixed(1)} s`;
  }
}

export function sweepCommand(deps: SweepDeps = { runSweep }): Command {
  const command = new Command('sweep')
    .description('hyperparameter search over simulated federations: grid or random search with successive halving on rounds; reports every trial and the Pareto front of clean vs robust accuracy')
    .option('--space <file>', 'search space (YAML or JSON): params: { field: [values] | { min, max, log, int } }')
    .option('--param <key=values>', 'a searched parameter (repeatable): key=v1,v2,… or key=min..max[:log][:int]; a run-config field (train.learningRate) or arch, partition, sites, featureShift', (v: string, prev: SearchSpace) => parseParamOption(v, prev))
    .addOption(new Option('--search <kind>', `grid or random (default: ${d.search})`).argParser(choiceOption('search', ['grid', 'random'] as const)))
    .option('--trials <n>', `random search: trials to draw (default: ${DEFAULT_RANDOM_TRIALS})`, intOption('trials', 1))
    .option('--min-rounds <n>', `rounds of the first rung of successive halving (default: ${d.minRounds})`, intOption('min-rounds', 1))
    .option('--max-rounds <n>', `rounds of the last rung (default: ${d.maxRounds})`, intOption('max-rounds', 1))
    .option('--eta <n>', `successive halving: keep the best 1/eta of each rung, with eta times the rounds (default: ${d.eta})`, intOption('eta', 2))
    .option('--objective <name>', `what to maximise: ${OBJECTIVES.join(', ')} (balanced: the mean of clean and robust accuracy) (default: ${d.objective})`, choiceOption('objective', OBJECTIVES))
    .option('--robust-eps <x>', `ε of the PGD accuracy that counts as robust accuracy (default: the built-in task's headline ε, ${d.robustEps} on the scanners, ${SweepSettings.parse({ space: {}, seed: 0, base: { featureShift: false } }).robustEps} with --no-feature-shift)`, floatOption('robust-eps', 1e-6, 1))
    .option('--out <dir>', 'the sweep\'s directory: sweep.json, sweep.html and runs/', 'sweep')
    .option('--resume <dir>', 'continue the sweep recorded in DIR/sweep.json with its own settings (finished trials are not re-run)')
    .option('--json', 'print the sweep record as JSON instead of the tables')
    .option('--sites <n>', `sites of each simulated federation (default: ${d.base.sites}, fewer than simulate's 8: a sweep runs many trials)`, intOption('sites', 1))
    .option('--partition <spec>', `${partitionKinds().join(', ')} (default: dirichlet:0.5)`)
    .option('--arch <name>', `model architecture (${pretrainedArchitectures().join(', ')}: the digits task's with a pretrained checkpoint) (default: mlp)`)
    .option('--no-feature-shift', "don't render each site's images through a scanner profile")
    .addOption(new Option('--transport <kind>', `memory or socket (default: ${d.base.transport})`).argParser(choiceOption('transport', ['memory', 'socket'] as const)))
    .option('--backend <name>', 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)');
  addRunConfigOptions(command, { '--min-sites': 'every site (--sites)' }, SWEEP_OWN_FLAGS);
  return command.action(async (o) => {
    refuseMissingInputPaths([
      { option: '--space', path: o.space, kind: 'file' },
      { option: '--config', path: o.config, kind: 'file' },
      { option: '--resume', path: o.resume, kind: 'directory' },
    ]);
    refuseUnusableSweepDir(o.resume !== undefined ? '--resume' : '--out', o.resume ?? o.out);
    let dir: string = o.out;
    let settings: SweepSettings;
    if (o.resume !== undefined) {
      const extra = PLAN_FLAGS.filter((k) => command.getOptionValueSource(k) === 'cli');
      const runConfig = Object.keys(runConfigFlags(command));
      if (extra.length || runConfig.length) throw new FedtuneError('config', `--resume takes the sweep's settings from ${sweepRecordPath(o.resume)}: drop ${[...extra, ...runConfig].join(', ')}`);
      if (command.getOptionValueSource('out') === 'cli' && o.out !== o.resume) throw new FedtuneError('config', '--resume DIR continues the sweep in DIR: --out cannot name another directory');
      const record = readSweepRecord(o.resume);
      if (!record) throw new FedtuneError('config', `${o.resume} holds no sweep (no sweep.json)`);
      dir = o.resume;
      settings = record.settings;
    } else {
      settings = sweepSettingsFromCommand(command);
    }
    const backend = await selectNodeBackend(o.backend);
    if (!o.json) console.log(describeBackend(backend));
    let total = { trials: 0, rungs: [] as number[] };
    // Ctrl-C stops at once (a trial's federation is not worth finishing): one line says what is kept and how to go on.
    const interrupted = (signal: NodeJS.Signals) => {
      (o.json ? console.error : console.log)(`\nstopped (${signal}): the finished trials are kept in ${sweepRecordPath(dir)}; continue with \`fedtune sweep --resume ${dir}\` (the trial that was running starts again)`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    const record = await deps.runSweep({
      dir,
      settings,
      backend: o.backend,
      runSimulation: deps.runSimulation,
      onEvent: (e) => {
        if (e.kind === 'plan') total = { trials: e.trials, rungs: e.rungs };
        const line = progressLine(e, total);
        if (line && !o.json) console.log(line);
      },
    }).finally(() => {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    });
    const html = writeSweepHtml(dir, record);
    if (o.json) {
      console.log(JSON.stringify(record, null, 2));
      return;
    }
    console.log(`\n${sweepTables(record)}\n`);
    console.log(sweepRecordPath(dir));
    console.log(html);
  });
}
