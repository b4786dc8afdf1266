import { type Command, InvalidArgumentError, Option } from 'commander';
import { deepMerge, DpConfig, loadRunConfigFile, mergeRunConfig, RunConfig, runConfigDefaults, type PartialRunConfigInput, type RunConfigFile } from '@fedtune/coordinator';
import { canonicalStrategyName, FedtuneError, strategyNames, TrainConfig } from '@fedtune/shared';
import { dpClipOption, floatOption, intOption, keyValueOption, robustnessWhenOption, trainableOption } from './options.ts';

/**
 * The run-configuration flags, declared once for every command that starts a run (`simulate`,
 * `coordinator`). Defaults live only in the RunConfig schema: the flags carry no default value (help text
 * shows the schema's), and only flags typed on the command line override the config file and the schema.
 */

type Defaults = ReturnType<typeof runConfigDefaults>;

interface RunConfigFlag {
  /** Commander flags, e.g. `--rounds <n>`. */
  flags: string;
  description: string;
  parse?: (value: string, previous: any) => unknown;
  /** The schema's default, as help shows it; absent when the schema has none. */
  shownDefault?: (d: Defaults) => unknown;
  /** The RunConfig field this flag sets (dotted), for error messages. */
  field?: string;
  /** Writes the typed value into the partial config (flags with no `apply` are combined in runConfigFlags). */
  apply?: (config: PartialRunConfigInput, value: any) => void;
}

/**
 * The schema requires a clip for client-level DP and for secure aggregation; a command line that turns
 * either on without a clip gets this one.
 */
export const CLIP_WHEN_NOT_GIVEN = 1;

const choicesOf = (schema: { options: readonly string[] }) => schema.options;
const optimizers = choicesOf(TrainConfig.shape.optimizer as unknown as { options: readonly string[] });
const federatedEvalChoices = choicesOf((RunConfig.shape.federatedEvaluation as unknown as { def: { innerType: { options: readonly string[] } } }).def.innerType);
const dpDeltaDefault = DpConfig.parse({ noiseMultiplier: 0, clip: 1 }).delta;
const calibrationChoices = choicesOf((RunConfig.shape.calibration as unknown as { def: { innerType: { shape: { source: { def: { innerType: { options: readonly string[] } } } } } } }).def.innerType.shape.source.def.innerType);

function choice(name: string, choices: readonly string[]) {
  return (value: string): string => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}`);
    return value;
  };
}

/** A strategy name or alias → the registry's stable name; the error lists the stable names. */
export function strategyOption(value: string): string {
  try {
    return canonicalStrategyName(value);
  } catch {
    throw new InvalidArgumentError(`unknown strategy "${value.slice(0, 64)}" (known: ${strategyNames.join(', ')})`);
  }
}

const train = (c: PartialRunConfigInput) => (c.train ??= {});

/** Every run-config flag, in help order. */
export const RUN_CONFIG_FLAGS: readonly RunConfigFlag[] = [
  { flags: '--config <file>', description: 'run configuration file (JSON or YAML); flags given on the command line override it' },
  { flags: '--run-id <id>', description: 'run id (default: generated)', field: 'runId', apply: (c, v) => (c.runId = v) },
  { flags: '--rounds <n>', description: 'number of rounds', parse: intOption('rounds', 1), shownDefault: (d) => d.rounds, field: 'rounds', apply: (c, v) => (c.rounds = v) },
  { flags: '--min-sites <n>', description: 'sites that must join before the first round', parse: intOption('min-sites', 1), shownDefault: (d) => d.minSites, field: 'minSites', apply: (c, v) => (c.minSites = v) },
  { flags: '--seed <n>', description: 'seed for the partition, sampling and training', parse: intOption('seed'), shownDefault: (d) => d.seed, field: 'seed', apply: (c, v) => (c.seed = v) },
  { flags: '--fraction <x>', description: 'share of sites sampled per round', parse: floatOption('fraction', 0.001, 1), shownDefault: (d) => d.fraction, field: 'fraction', apply: (c, v) => (c.fraction = v) },
  { flags: '--quorum <x>', description: 'share of the selected sites whose results must be accepted', parse: floatOption('quorum', 0.001, 1), shownDefault: (d) => d.quorum, field: 'quorum', apply: (c, v) => (c.quorum = v) },
  { flags: '--round-timeout <s>', description: 'seconds to wait for results each round', parse: intOption('round-timeout', 1), shownDefault: (d) => d.roundTimeoutMs / 1000, field: 'roundTimeoutMs', apply: (c, v) => (c.roundTimeoutMs = v * 1000) },
  { flags: '--epochs <n>', description: 'local epochs per round', parse: intOption('epochs', 1), shownDefault: (d) => d.train.epochs, field: 'train.epochs', apply: (c, v) => (train(c).epochs = v) },
  { flags: '--batch-size <n>', description: 'local batch size', parse: intOption('batch-size', 1), shownDefault: (d) => d.train.batchSize, field: 'train.batchSize', apply: (c, v) => (train(c).batchSize = v) },
  { flags: '--lr <x>', description: 'local learning rate', parse: floatOption('lr', 1e-9, 10), shownDefault: (d) => d.train.learningRate, field: 'train.learningRate', apply: (c, v) => (train(c).learningRate = v) },
  { flags: '--optimizer <name>', description: optimizers.join(', '), parse: choice('optimizer', optimizers), shownDefault: (d) => d.train.optimizer, field: 'train.optimizer', apply: (c, v) => (train(c).optimizer = v) },
  { flags: '--trainable <scope>', description: 'which layers train: all, head, or the last K layers', parse: trainableOption, shownDefault: (d) => d.train.trainable, field: 'train.trainable', apply: (c, v) => (train(c).trainable = v) },
  { flags: '--max-examples <n>', description: 'cap on the examples each site trains on per round (default: all)', parse: intOption('max-examples', 1), field: 'train.maxExamples', apply: (c, v) => (train(c).maxExamples = v) },
  { flags: '--federated-eval <when>', description: federatedEvalChoices.join(', '), parse: choice('federated-eval', federatedEvalChoices), shownDefault: (d) => d.federatedEvaluation, field: 'federatedEvaluation', apply: (c, v) => (c.federatedEvaluation = v) },
  { flags: '--robustness <when>', description: 'robustness evaluation of the global model: final, every-round, never, or every K rounds', parse: robustnessWhenOption, shownDefault: (d) => d.robustness.when, field: 'robustness.when', apply: (c, v) => (c.robustness = { ...c.robustness, when: v }) },
  { flags: '--robustness-examples <n>', description: 'holdout examples for the robustness evaluation (default: the evaluation\'s own)', parse: intOption('robustness-examples', 1), field: 'robustness.examples', apply: (c, v) => (c.robustness = { ...c.robustness, examples: v }) },
  { flags: '--calibration <source>', description: `temperature scaling of the global model where robustness is evaluated: ${calibrationChoices.join(', ')} (federated: fitted on the sites' validation splits, which send only NLL sums)`, parse: choice('calibration', calibrationChoices), shownDefault: (d) => d.calibration.source, field: 'calibration.source', apply: (c, v) => (c.calibration = { ...c.calibration, source: v }) },
  { flags: '--certify', description: 'randomized smoothing of the final model: certified accuracy at L2 radii (settings: robustness.certify in the config file)', field: 'robustness.certify', apply: (c) => (c.robustness = { ...c.robustness, certify: { ...(c.robustness as { certify?: object } | undefined)?.certify } }) },
  { flags: '--strategy <name>', description: `aggregation strategy: ${strategyNames.join(', ')}`, parse: strategyOption, shownDefault: (d) => d.strategy, field: 'strategy', apply: (c, v) => (c.strategy = v) },
  { flags: '--strategy-opt <key=value>', description: 'a strategy option (repeatable), e.g. f=2; an unknown key is refused with the strategy\'s known options', parse: keyValueOption, field: 'strategyOptions', apply: (c, v) => (c.strategyOptions = v) },
  { flags: '--expected-malicious <n>', description: 'how many sites may be malicious: Krum, Multi-Krum and Bulyan take their f from it (simulate: the attackers\' count)', parse: intOption('expected-malicious'), field: 'expectedMaliciousSites', apply: (c, v) => (c.expectedMaliciousSites = v) },
  { flags: '--max-update-norm <x>', description: 'reject updates farther than this (L2) from the global model (default: no fixed bound)', parse: floatOption('max-update-norm', 1e-9, 1e12), field: 'maxUpdateNorm', apply: (c, v) => (c.maxUpdateNorm = v) },
  { flags: '--norm-bound-multiple <x>', description: 'refuse an update whose norm exceeds this multiple of the round\'s median (0: off)', parse: floatOption('norm-bound-multiple', 0, 1e6), shownDefault: (d) => d.normBoundMultiple, field: 'normBoundMultiple', apply: (c, v) => (c.normBoundMultiple = v) },
  { flags: '--example-weight-cap <x>', description: 'a site\'s example count weighs at most this multiple of the median count (0: off)', parse: floatOption('example-weight-cap', 0, 1e6), shownDefault: (d) => d.exampleWeightCap, field: 'exampleWeightCap', apply: (c, v) => (c.exampleWeightCap = v) },
  { flags: '--max-accuracy-drop <x>', description: 'do not adopt a global model whose holdout accuracy drops by more than this (1: off)', parse: floatOption('max-accuracy-drop', 0, 1), shownDefault: (d) => d.maxAccuracyDrop, field: 'maxAccuracyDrop', apply: (c, v) => (c.maxAccuracyDrop = v) },
  { flags: '--dp-noise <z>', description: 'client-level DP: noise multiplier z of DP-FedAvg (turns DP on)', parse: floatOption('dp-noise', 0, 1000), field: 'dp.noiseMultiplier' },
  { flags: '--dp-clip <c>', description: `client-level DP: clip norm C, or adaptive:QUANTILE[:INITIAL] (default: ${CLIP_WHEN_NOT_GIVEN})`, parse: dpClipOption, field: 'dp.clip' },
  { flags: '--dp-delta <d>', description: `δ of the reported (ε, δ) (default: ${dpDeltaDefault})`, parse: floatOption('dp-delta', 1e-12, 0.5), field: 'dp.delta' },
  { flags: '--dp-sgd-clip <c>', description: 'record-level DP-SGD inside each site: per-example clip norm C', parse: floatOption('dp-sgd-clip', 1e-9, 1e9), field: 'train.dpSgd.clip' },
  { flags: '--dp-sgd-noise <z>', description: 'record-level DP-SGD inside each site: noise multiplier z (ε per site in the report, at --dp-delta)', parse: floatOption('dp-sgd-noise', 0, 1000), field: 'train.dpSgd.noiseMultiplier' },
  { flags: '--secure-aggregation', description: 'secure aggregation: the coordinator learns only the sum of the sites\' clipped deltas (strategy fedavg or another of the mean)' },
  { flags: '--secagg-clip <c>', description: `secure aggregation: L2 clip norm of each site's delta before masking (default: ${CLIP_WHEN_NOT_GIVEN})`, parse: floatOption('secagg-clip', 1e-9, 1e9), field: 'secureAggregation.clip' },
  { flags: '--secagg-threshold <t>', description: 'secure aggregation: shares needed to unmask (default and minimum: a strict majority)', parse: intOption('secagg-threshold', 2), field: 'secureAggregation.threshold' },
  { flags: '--secagg-neighbours <k>', description: 'secure aggregation: mask with k neighbours on a ring (SecAgg+, even; default: every site)', parse: intOption('secagg-neighbours', 2), field: 'secureAggregation.neighbours' },
];

function formatDefault(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Adds every run-config flag to `command`. Help text shows the schema's defaults, or what the command puts
 * in their place (`shownDefaults`, by long flag: simulate waits for every site, not for the schema's 2).
 */
export function addRunConfigOptions(command: Command, shownDefaults: Readonly<Record<string, string>> = {}): Command {
  const defaults = runConfigDefaults();
  for (const flag of RUN_CONFIG_FLAGS) {
    const shown = shownDefaults[flag.flags.split(' ')[0]] ?? flag.shownDefault?.(defaults);
    const option = new Option(flag.flags, shown === undefined ? flag.description : `${flag.description} (default: ${formatDefault(shown)})`);
    if (flag.parse) option.argParser(flag.parse);
    command.addOption(option);
  }
  return command;
}

function attributeName(flags: string): string {
  return new Option(flags).attributeName();
}

/** The command-line spelling of each field the flags set, for mergeRunConfig's messages. */
export const RUN_CONFIG_FLAG_NAMES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(RUN_CONFIG_FLAGS.filter((f) => f.field).map((f) => [f.field!, f.flags.split(' ')[0]])),
);

/**
 * The run-config fields typed on `command`'s command line (after it parsed argv), as a partial config:
 * only flags whose value came from the command line are included, so the file and the schema supply the rest.
 * Combined flags (DP, DP-SGD, secure aggregation) are checked together; one without its partner is refused.
 */
export function runConfigFlags(command: Command): PartialRunConfigInput {
  const o = command.opts();
  const given = (flags: string) => command.getOptionValueSource(attributeName(flags)) === 'cli';
  const value = (flags: string) => (given(flags) ? o[attributeName(flags)] : undefined);
  const config: PartialRunConfigInput = {};
  for (const flag of RUN_CONFIG_FLAGS) if (flag.apply && given(flag.flags)) flag.apply(config, o[attributeName(flag.flags)]);

  const dpNoise = value('--dp-noise <z>') as number | undefined;
  const dpClip = value('--dp-clip <c>') as ReturnType<typeof dpClipOption> | undefined;
  const dpDelta = value('--dp-delta <d>') as number | undefined;
  const dpSgdClip = value('--dp-sgd-clip <c>') as number | undefined;
  const dpSgdNoise = value('--dp-sgd-noise <z>') as number | undefined;
  if (dpClip !== undefined && dpNoise === undefined) throw new FedtuneError('config', '--dp-clip needs --dp-noise');
  if (dpNoise !== undefined) {
    config.dp = { noiseMultiplier: dpNoise, clip: dpClip?.clip ?? CLIP_WHEN_NOT_GIVEN, ...(dpClip?.adaptive ? { adaptive: dpClip.adaptive } : {}), ...(dpDelta !== undefined ? { delta: dpDelta } : {}) };
  }
  if ((dpSgdClip === undefined) !== (dpSgdNoise === undefined)) throw new FedtuneError('config', '--dp-sgd-clip and --dp-sgd-noise go together');
  if (dpSgdClip !== undefined) train(config).dpSgd = { clip: dpSgdClip, noiseMultiplier: dpSgdNoise!, ...(dpDelta !== undefined ? { delta: dpDelta } : {}) };
  if (dpDelta !== undefined && dpNoise === undefined && dpSgdClip === undefined) throw new FedtuneError('config', '--dp-delta needs --dp-noise or --dp-sgd-noise');

  const secagg = given('--secure-aggregation');
  const secaggClip = value('--secagg-clip <c>') as number | undefined;
  const secaggThreshold = value('--secagg-threshold <t>') as number | undefined;
  const secaggNeighbours = value('--secagg-neighbours <k>') as number | undefined;
  if (!secagg && (secaggClip ?? secaggThreshold ?? secaggNeighbours) !== undefined) throw new FedtuneError('config', '--secagg-clip, --secagg-threshold and --secagg-neighbours need --secure-aggregation');
  if (secagg) {
    config.secureAggregation = {
      clip: secaggClip ?? CLIP_WHEN_NOT_GIVEN,
      ...(secaggThreshold !== undefined ? { threshold: secaggThreshold } : {}),
      ...(secaggNeighbours !== undefined ? { neighbours: secaggNeighbours } : {}),
    };
  }
  return config;
}

/** The `--config FILE` given on `command`, loaded and checked, or undefined. */
export function runConfigFile(command: Command): RunConfigFile | undefined {
  const path = command.opts().config as string | undefined;
  return path ? loadRunConfigFile(path) : undefined;
}

/**
 * The run configuration of `command`'s parsed argv: schema defaults < `base` (what the command itself
 * decides, e.g. simulate's minSites = its site count) < `--config FILE` < flags typed on the command line.
 */
export function runConfigFromCommand(command: Command, base: PartialRunConfigInput = {}): RunConfig {
  return layeredRunConfig({ base, file: runConfigFile(command), flags: runConfigFlags(command) });
}

/** defaults < base < file < flags, validated; errors name the flag or the file line a bad value came from. */
export function layeredRunConfig(layers: { base?: PartialRunConfigInput; file?: RunConfigFile; flags?: PartialRunConfigInput }): RunConfig {
  const { base = {}, file, flags = {} } = layers;
  const lower: RunConfigFile | PartialRunConfigInput = file ? { ...file, values: deepMerge(base, file.values) as PartialRunConfigInput } : base;
  return mergeRunConfig(lower, flags, { flagNames: { ...RUN_CONFIG_FLAG_NAMES } });
}
