import { type Command, InvalidArgumentError, Option } from 'commander';
import { deepMerge, DpConfig, loadRunConfigFile, mergeRunConfig, refuseInactiveRunConfig, RunConfig, runConfigDefaults, type PartialRunConfigInput, type RunConfigFile } from '@fedtune/coordinator/config';
import { ADVERSARIAL_DEFAULTS, AdversarialTraining, canonicalStrategyName, FedtuneError, LearningRateSchedule, MAX_PERSONALIZATION_FOLDS, PERSONALIZATION_GUARDS, PERSONALIZATION_MODES, PERSONALIZATION_SELECTIONS, strategyNames, TEXT_ROBUSTNESS_DEFAULTS, TrainConfig, UpdateEncoding, updateEncodingOf } from '@fedtune/shared';
import { ADVERSARIAL_INACTIVE_RULES, refuseInactiveFlags } from './inactive-run-config-flags.ts';
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

/** `--class-names a,b,c` → ['a', 'b', 'c'] (the schema checks count, length and distinctness). */
export function classNamesOption(value: string): string[] {
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new InvalidArgumentError('class-names: an empty name (give names separated by commas, e.g. ham,spam)');
  return names;
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
const personalization = (c: PartialRunConfigInput) => (c.personalization ??= {});
/** The adversarial part of the partial config (its fields come one flag at a time; the schema checks the whole). */
const adversarial = (c: PartialRunConfigInput): Record<string, unknown> => ((train(c) as { adversarial?: Record<string, unknown> }).adversarial ??= {});
const adversarialShape = AdversarialTraining.shape as unknown as Record<string, { options?: readonly string[]; def: { innerType?: { options: readonly string[] } } }>;
const adversarialChoices = (field: string) => adversarialShape[field].options ?? adversarialShape[field].def.innerType!.options;
const adversarialDefaults = AdversarialTraining.parse({ eps: 0 });

/**
 * `--lr-schedule cosine[:FINAL]` or `step:EVERY[:FACTOR]` → a LearningRateSchedule input (the schema supplies
 * the defaults of FINAL and FACTOR and checks the ranges).
 */
export function learningRateScheduleOption(value: string): { kind: 'cosine'; finalFactor?: number } | { kind: 'step'; every: number; factor?: number } {
  const cosine = /^cosine(?::([0-9.eE+-]+))?$/.exec(value);
  const step = /^step:(\d+)(?::([0-9.eE+-]+))?$/.exec(value);
  const parsed = cosine ? { kind: 'cosine' as const, ...(cosine[1] !== undefined ? { finalFactor: Number(cosine[1]) } : {}) } : step ? { kind: 'step' as const, every: Number(step[1]), ...(step[2] !== undefined ? { factor: Number(step[2]) } : {}) } : undefined;
  const checked = parsed && LearningRateSchedule.safeParse(parsed);
  if (!parsed || !checked?.success) {
    throw new InvalidArgumentError(`lr-schedule takes cosine[:FINAL] (FINAL in (0, 1]: the last round's share of --lr) or step:EVERY[:FACTOR] (× FACTOR in (0, 1] every EVERY rounds), got "${value.slice(0, 32)}"`);
  }
  return parsed;
}

/** `--text-augment COPIES:RATE`: an integer 1..16 and a rate in (0, 1]. */
export function textAugmentOption(value: string): { copies: number; rate: number } {
  const m = /^(\d+):([0-9.]+)$/.exec(value);
  const copies = m ? Number(m[1]) : NaN;
  const rate = m ? Number(m[2]) : NaN;
  if (!(Number.isInteger(copies) && copies >= 1 && copies <= 16 && rate > 0 && rate <= 1)) {
    throw new InvalidArgumentError(`text-augment takes COPIES:RATE, an integer 1..16 and a rate in (0, 1], got "${value.slice(0, 32)}"`);
  }
  return { copies, rate };
}

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
  { flags: '--wait-after-quorum <s>', description: 'once a round has its quorum of accepted results, wait at most this many seconds for the other selected sites, then close it without them (default: wait for all until --round-timeout; not with secure aggregation)', parse: floatOption('wait-after-quorum', 0, 86_400), field: 'stragglers.waitAfterQuorumMs', apply: (c, v) => (c.stragglers = { ...c.stragglers, waitAfterQuorumMs: Math.round(v * 1000) }) },
  { flags: '--straggler-cooldown <rounds>', description: 'a selected site that gave no answer by its round\'s deadline sits out the next 1, 2, 4, … rounds (doubling per miss in a row, at most this many; an accepted update ends it); 0 = off', parse: intOption('straggler-cooldown', 0), shownDefault: (d) => d.stragglers.maxCooldownRounds, field: 'stragglers.maxCooldownRounds', apply: (c, v) => (c.stragglers = { ...c.stragglers, maxCooldownRounds: v }) },
  { flags: '--epochs <n>', description: 'local epochs per round', parse: intOption('epochs', 1), shownDefault: (d) => d.train.epochs, field: 'train.epochs', apply: (c, v) => (train(c).epochs = v) },
  { flags: '--batch-size <n>', description: 'local batch size', parse: intOption('batch-size', 1), shownDefault: (d) => d.train.batchSize, field: 'train.batchSize', apply: (c, v) => (train(c).batchSize = v) },
  { flags: '--lr <x>', description: 'local learning rate', parse: floatOption('lr', 1e-9, 10), shownDefault: (d) => d.train.learningRate, field: 'train.learningRate', apply: (c, v) => (train(c).learningRate = v) },
  { flags: '--lr-schedule <spec>', description: 'learning rate over the rounds: cosine[:FINAL] (down to FINAL × --lr in the last round, default 0.1) or step:EVERY[:FACTOR] (× FACTOR, default 0.5, every EVERY rounds); default constant', parse: learningRateScheduleOption, field: 'train.learningRateSchedule', apply: (c, v) => (train(c).learningRateSchedule = v) },
  { flags: '--optimizer <name>', description: optimizers.join(', '), parse: choice('optimizer', optimizers), shownDefault: (d) => d.train.optimizer, field: 'train.optimizer', apply: (c, v) => (train(c).optimizer = v) },
  { flags: '--trainable <scope>', description: 'which layers train: all, head, or the last K layers', parse: trainableOption, shownDefault: (d) => d.train.trainable, field: 'train.trainable', apply: (c, v) => (train(c).trainable = v) },
  { flags: '--max-examples <n>', description: 'cap on the examples each site trains on per round (default: all)', parse: intOption('max-examples', 1), field: 'train.maxExamples', apply: (c, v) => (train(c).maxExamples = v) },
  { flags: '--update-encoding <name>', description: `how sites send their updates: ${UpdateEncoding.options.join(', ')} (fp16/int8: the delta from the global model, 0.5×/0.25× the bytes; docs/performance.md#compressed-updates)`, parse: choice('update-encoding', UpdateEncoding.options), shownDefault: () => updateEncodingOf({}), field: 'train.updateEncoding', apply: (c, v) => (train(c).updateEncoding = v) },
  { flags: '--model-delivery <how>', description: 'how instructions carry the global model: socket (in the message) or http (sites GET /api/v1/models/:version/weights, ETag = sha-256; cacheable by a CDN)', parse: choice('model-delivery', ['socket', 'http']), shownDefault: (d) => d.modelDelivery, field: 'modelDelivery', apply: (c, v) => (c.modelDelivery = v) },
  // Adversarial training (docs/robustness.md#adversarial-training): any of these turns it on; --adv-eps is required (here, in the file or by a preset).
  { flags: '--adv-method <name>', description: `adversarial training: ${adversarialChoices('method').join(', ')} (TRADES: clean loss + β·KL to the adversarial prediction)`, parse: choice('adv-method', adversarialChoices('method')), shownDefault: () => adversarialDefaults.method, field: 'train.adversarial.method', apply: (c, v) => (adversarial(c).method = v) },
  { flags: '--adv-eps <x>', description: 'adversarial training: radius ε of the attack (in --adv-eps-units; turns adversarial training on)', parse: floatOption('adv-eps', 0, 100), field: 'train.adversarial.eps', apply: (c, v) => (adversarial(c).eps = v) },
  { flags: '--adv-steps <n>', description: 'adversarial training: PGD / TRADES iterations', parse: intOption('adv-steps', 1), shownDefault: () => ADVERSARIAL_DEFAULTS.steps, field: 'train.adversarial.steps', apply: (c, v) => (adversarial(c).steps = v) },
  { flags: '--adv-step-size <x>', description: 'adversarial training: PGD / TRADES step size, in --adv-eps-units (default: 2.5·ε/steps)', parse: floatOption('adv-step-size', 1e-9, 100), field: 'train.adversarial.stepSize', apply: (c, v) => (adversarial(c).stepSize = v) },
  { flags: '--adv-share <x>', description: 'adversarial training: share of every batch made adversarial', parse: floatOption('adv-share', 0, 1), shownDefault: () => adversarialDefaults.share, field: 'train.adversarial.share', apply: (c, v) => (adversarial(c).share = v) },
  { flags: '--adv-norm <norm>', description: 'adversarial training: the attack\'s norm, linf or l2', parse: choice('adv-norm', adversarialChoices('norm')), shownDefault: () => ADVERSARIAL_DEFAULTS.norm, field: 'train.adversarial.norm', apply: (c, v) => (adversarial(c).norm = v) },
  { flags: '--adv-eps-units <units>', description: 'adversarial training: units of ε — absolute, feature-std (each feature\'s std on the site\'s data) or data-std (the std of all its input values)', parse: choice('adv-eps-units', adversarialChoices('epsUnits')), shownDefault: () => ADVERSARIAL_DEFAULTS.epsUnits, field: 'train.adversarial.epsUnits', apply: (c, v) => (adversarial(c).epsUnits = v) },
  { flags: '--adv-warmup <rounds>', description: 'adversarial training: ramp ε linearly from ε/k to ε over the first k rounds', parse: intOption('adv-warmup', 1), field: 'train.adversarial.warmupRounds', apply: (c, v) => (adversarial(c).warmupRounds = v) },
  { flags: '--adv-space <space>', description: 'adversarial training: perturb the input, or the embedding output of a text model (L2 ball per token; its first layer must be an Embedding)', parse: choice('adv-space', adversarialChoices('space')), field: 'train.adversarial.space', apply: (c, v) => (adversarial(c).space = v) },
  { flags: '--trades-beta <x>', description: 'adversarial training: TRADES weight β of the KL term (with --adv-method trades)', parse: floatOption('trades-beta', 0, 100), shownDefault: () => ADVERSARIAL_DEFAULTS.beta, field: 'train.adversarial.beta', apply: (c, v) => (adversarial(c).beta = v) },
  { flags: '--adv-awp <gamma>', description: 'adversarial training: adversarial weight perturbation (AWP) — each step\'s gradient is taken at weights moved up the loss by γ × each weight matrix\'s norm (e.g. 0.005; default off)', parse: floatOption('adv-awp', 0, 1), field: 'train.adversarial.awp', apply: (c, v) => (adversarial(c).awp = v) },
  { flags: '--adv-attack-loss <loss>', description: `adversarial training: the loss the FGSM / PGD attack climbs — ${adversarialChoices('attackLoss').join(', ')} (mixed: half the adversarial examples by cross-entropy, half by the logit margin)`, parse: choice('adv-attack-loss', adversarialChoices('attackLoss')), shownDefault: () => ADVERSARIAL_DEFAULTS.attackLoss, field: 'train.adversarial.attackLoss', apply: (c, v) => (adversarial(c).attackLoss = v) },
  { flags: '--text-augment <copies:rate>', description: 'text tasks: each site adds COPIES perturbed copies of its texts per round, each by a random text corruption at RATE (e.g. 1:0.1; a site may opt out with --no-text-augment; docs/text.md)', parse: textAugmentOption, field: 'train.textAugmentation', apply: (c, v) => (train(c).textAugmentation = v) },
  { flags: '--class-names <a,b,...>', description: 'the run\'s classes in order (index → name); sites number their named labels (CSV label names, class folder names) by it and refuse a label not in it (default: the pretrained model\'s classNames, if any; docs/data.md#class-names)', parse: classNamesOption, field: 'classNames', apply: (c, v) => (c.classNames = v) },
  { flags: '--average-rounds <n>', description: 'the final model is the mean of the global models of the last N rounds (weight averaging; sites train as before); 1 = the last round\'s model', parse: intOption('average-rounds', 1), shownDefault: (d) => d.averageRounds, field: 'averageRounds', apply: (c, v) => (c.averageRounds = v) },
  { flags: '--federated-eval <when>', description: federatedEvalChoices.join(', '), parse: choice('federated-eval', federatedEvalChoices), shownDefault: (d) => d.federatedEvaluation, field: 'federatedEvaluation', apply: (c, v) => (c.federatedEvaluation = v) },
  { flags: '--evaluation-fraction <x>', description: 'share of the joined sites asked for each federated evaluation (seeded sample)', parse: floatOption('evaluation-fraction', 0.001, 1), shownDefault: (d) => d.evaluationFraction, field: 'evaluationFraction', apply: (c, v) => (c.evaluationFraction = v) },
  { flags: '--max-evaluation-sites <n>', description: 'most sites asked for each federated evaluation (0 = no cap)', parse: intOption('max-evaluation-sites', 0), shownDefault: (d) => d.maxEvaluationSites, field: 'maxEvaluationSites', apply: (c, v) => (c.maxEvaluationSites = v) },
  { flags: '--sites-drop-model', description: 'cross-device: sites drop their model after every instruction (the model is sent with every instruction)', field: 'sitesKeepModel', apply: (c) => (c.sitesKeepModel = false) },
  { flags: '--robustness <when>', description: 'robustness evaluation of the global model: final, every-round, never, or every K rounds', parse: robustnessWhenOption, shownDefault: (d) => d.robustness.when, field: 'robustness.when', apply: (c, v) => (c.robustness = { ...c.robustness, when: v }) },
  { flags: '--robustness-examples <n>', description: `holdout examples for the robustness evaluation (default: the evaluation's own); --task spam: the holdout e-mails its text robustness evaluates (default ${TEXT_ROBUSTNESS_DEFAULTS.examples})`, parse: intOption('robustness-examples', 1), field: 'robustness.examples', apply: (c, v) => (c.robustness = { ...c.robustness, examples: v }) },
  { flags: '--calibration <source>', description: `temperature scaling of the global model where robustness is evaluated: ${calibrationChoices.join(', ')} (federated: fitted on the sites' validation splits, which send only NLL sums)`, parse: choice('calibration', calibrationChoices), shownDefault: (d) => d.calibration.source, field: 'calibration.source', apply: (c, v) => (c.calibration = { ...c.calibration, source: v }) },
  { flags: '--certify', description: 'randomized smoothing of the final model: certified accuracy at L2 radii (settings: robustness.certify in the config file)', field: 'robustness.certify', apply: (c) => (c.robustness = { ...c.robustness, certify: { ...(c.robustness as { certify?: object } | undefined)?.certify } }) },
  { flags: '--strategy <name>', description: `aggregation strategy: ${strategyNames.join(', ')}`, parse: strategyOption, shownDefault: (d) => d.strategy, field: 'strategy', apply: (c, v) => (c.strategy = v) },
  { flags: '--strategy-opt <key=value>', description: 'a strategy option (repeatable), e.g. f=2; an unknown key is refused with the strategy\'s known options', parse: keyValueOption, field: 'strategyOptions', apply: (c, v) => (c.strategyOptions = v) },
  { flags: '--expected-malicious <n>', description: 'how many sites may be malicious: Krum, Multi-Krum and Bulyan take their f from it (simulate: the attackers\' count)', parse: intOption('expected-malicious'), field: 'expectedMaliciousSites', apply: (c, v) => (c.expectedMaliciousSites = v) },
  { flags: '--max-update-norm <x>', description: 'reject updates farther than this (L2) from the global model (default: no fixed bound)', parse: floatOption('max-update-norm', 1e-9, 1e12), field: 'maxUpdateNorm', apply: (c, v) => (c.maxUpdateNorm = v) },
  { flags: '--norm-bound-multiple <x>', description: 'refuse an update whose norm exceeds this multiple of the round\'s median (0: off)', parse: floatOption('norm-bound-multiple', 0, 1e6), shownDefault: (d) => d.normBoundMultiple, field: 'normBoundMultiple', apply: (c, v) => (c.normBoundMultiple = v) },
  { flags: '--example-weight-cap <x>', description: 'a site\'s example count weighs at most this multiple of the median count — in the training average (not under DP or secure aggregation), federated evaluation and federated calibration (0: off)', parse: floatOption('example-weight-cap', 0, 1e6), shownDefault: (d) => d.exampleWeightCap, field: 'exampleWeightCap', apply: (c, v) => (c.exampleWeightCap = v) },
  { flags: '--max-accuracy-drop <x>', description: 'do not adopt a global model whose holdout accuracy drops by more than this (1: off)', parse: floatOption('max-accuracy-drop', 0, 1), shownDefault: (d) => d.maxAccuracyDrop, field: 'maxAccuracyDrop', apply: (c, v) => (c.maxAccuracyDrop = v) },
  { flags: '--max-accuracy-drop-from-best <x>', description: "do not adopt a global model whose holdout accuracy is more than this below the run's best round model, unless its loss is lower (1: off)", parse: floatOption('max-accuracy-drop-from-best', 0, 1), shownDefault: (d) => d.maxAccuracyDropFromBest, field: 'maxAccuracyDropFromBest', apply: (c, v) => (c.maxAccuracyDropFromBest = v) },
  { flags: '--dp-noise <z>', description: 'client-level DP: noise multiplier z of DP-FedAvg (turns DP on)', parse: floatOption('dp-noise', 0, 1000), field: 'dp.noiseMultiplier' },
  { flags: '--dp-clip <c>', description: `client-level DP: clip norm C, or adaptive:QUANTILE[:INITIAL] (default: ${CLIP_WHEN_NOT_GIVEN})`, parse: dpClipOption, field: 'dp.clip' },
  { flags: '--dp-noise-mode <mode>', description: 'who adds the client-level DP noise: central (the coordinator) or distributed (each site, under --secure-aggregation; the default there)', parse: choice('dp-noise-mode', ['central', 'distributed'] as const), field: 'dp.noise' },
  { flags: '--dp-delta <d>', description: `δ of the reported (ε, δ) (default: ${dpDeltaDefault})`, parse: floatOption('dp-delta', 1e-12, 0.5), field: 'dp.delta' },
  { flags: '--dp-sgd-clip <c>', description: 'record-level DP-SGD inside each site: per-example clip norm C', parse: floatOption('dp-sgd-clip', 1e-9, 1e9), field: 'train.dpSgd.clip' },
  { flags: '--dp-sgd-noise <z>', description: 'record-level DP-SGD inside each site: noise multiplier z (ε per site in the report, at --dp-delta)', parse: floatOption('dp-sgd-noise', 0, 1000), field: 'train.dpSgd.noiseMultiplier' },
  { flags: '--personalize <mode>', description: `after the final round each site personalises its own copy of the global model and keeps it: ${PERSONALIZATION_MODES.join(', ')}`, parse: choice('personalize', PERSONALIZATION_MODES), shownDefault: (d) => d.personalization.mode, field: 'personalization.mode', apply: (c, v) => (personalization(c).mode = v) },
  { flags: '--personalize-epochs <n>', description: 'local epochs of the personalisation', parse: intOption('personalize-epochs', 1), shownDefault: (d) => d.personalization.epochs, field: 'personalization.epochs', apply: (c, v) => (personalization(c).epochs = v) },
  { flags: '--personalize-lambda <x>', description: "Ditto's λ: (λ/2)·‖v − w_global‖² keeps the personal model near the global one", parse: floatOption('personalize-lambda', 0, 100), shownDefault: (d) => d.personalization.lambda, field: 'personalization.lambda', apply: (c, v) => (personalization(c).lambda = v) },
  { flags: '--personalize-lr <x>', description: "learning rate of the personalisation (default: --lr)", parse: floatOption('personalize-lr', 1e-9, 10), field: 'personalization.learningRate', apply: (c, v) => (personalization(c).learningRate = v) },
  { flags: '--personalize-keep-always', description: 'keep the personalised model even when its validation loss is worse than the global model\'s', field: 'personalization.validate', apply: (c) => (personalization(c).validate = false) },
  { flags: '--personalize-guard <attack>', description: `--personalize auto never keeps a candidate less robust than the global model on the site's validation split under this attack: ${PERSONALIZATION_GUARDS.join(', ')}`, parse: choice('personalize-guard', PERSONALIZATION_GUARDS), shownDefault: (d) => d.personalization.guard, field: 'personalization.guard', apply: (c, v) => (personalization(c).guard = v) },
  { flags: '--personalize-guard-eps <x>', description: 'ε of --personalize-guard (absolute input units)', parse: floatOption('personalize-guard-eps', 0, 1), shownDefault: (d) => d.personalization.guardEps, field: 'personalization.guardEps', apply: (c, v) => (personalization(c).guardEps = v) },
  { flags: '--personalize-selection <method>', description: `how --personalize auto scores its candidates at each site: ${PERSONALIZATION_SELECTIONS.join(', ')} (stratified k-fold over train ∪ validation, then a refit)`, parse: choice('personalize-selection', PERSONALIZATION_SELECTIONS), shownDefault: (d) => d.personalization.selection, field: 'personalization.selection', apply: (c, v) => (personalization(c).selection = v) },
  { flags: '--personalize-folds <k>', description: `folds of --personalize-selection kfold (2–${MAX_PERSONALIZATION_FOLDS})`, parse: intOption('personalize-folds', 2), shownDefault: (d) => d.personalization.folds, field: 'personalization.folds', apply: (c, v) => (personalization(c).folds = v) },
  { flags: '--personalize-margin <se>', description: '--personalize auto keeps the global model (then the local-only one) unless a candidate beats it by more than this many paired standard errors on validation (0: the highest accuracy wins)', parse: floatOption('personalize-margin', 0, 10), shownDefault: (d) => d.personalization.selectionMargin, field: 'personalization.selectionMargin', apply: (c, v) => (personalization(c).selectionMargin = v) },
  { flags: '--no-local-only', description: 'skip the local-only baseline (each site trained alone from the pretrained model) of the per-site report', field: 'personalization.localOnly', apply: (c) => (personalization(c).localOnly = false) },
  { flags: '--site-robustness <when>', description: 'noise, corruptions and PGD on every site\'s own test split (aggregates only): final or never', parse: choice('site-robustness', ['final', 'never']), shownDefault: (d) => d.siteRobustness.when, field: 'siteRobustness.when', apply: (c, v) => (c.siteRobustness = { ...c.siteRobustness, when: v }) },
  { flags: '--site-robustness-examples <n>', description: 'test examples per site for --site-robustness', parse: intOption('site-robustness-examples', 1), shownDefault: (d) => d.siteRobustness.examples, field: 'siteRobustness.examples', apply: (c, v) => (c.siteRobustness = { ...c.siteRobustness, examples: v }) },
  { flags: '--secure-aggregation', description: 'secure aggregation: the coordinator learns only the sum of the sites\' clipped deltas (strategy fedavg or another of the mean)' },
  { flags: '--secagg-clip <c>', description: `secure aggregation: L2 clip norm of each site's delta before masking (default: ${CLIP_WHEN_NOT_GIVEN})`, parse: floatOption('secagg-clip', 1e-9, 1e9), field: 'secureAggregation.clip' },
  { flags: '--secagg-threshold <t>', description: 'secure aggregation: shares needed to unmask (default and minimum: a strict majority)', parse: intOption('secagg-threshold', 2), field: 'secureAggregation.threshold' },
  { flags: '--secagg-neighbours <k>', description: 'secure aggregation: mask with k neighbours on a ring (SecAgg+, even; default: every site)', parse: intOption('secagg-neighbours', 2), field: 'secureAggregation.neighbours' },
];

/**
 * The adversarial-training flags a site may set for its own local training (`fedtune client`): the same
 * declarations as the run's, read into the site's settings (site flag > coordinator instruction).
 */
export const SITE_ADVERSARIAL_FLAGS: readonly RunConfigFlag[] = RUN_CONFIG_FLAGS.filter((f) => f.field?.startsWith('train.adversarial.'));

/** Adds the site's adversarial flags to `command` (no default shown: absent, the coordinator's instruction holds). */
export function addSiteAdversarialOptions(command: Command): Command {
  for (const flag of SITE_ADVERSARIAL_FLAGS) {
    const option = new Option(flag.flags, `${flag.description.replace('adversarial training: ', "this site's adversarial training: ")} (default: the coordinator's)`);
    if (flag.parse) option.argParser(flag.parse);
    command.addOption(option);
  }
  return command;
}

/** The site's adversarial settings typed on `command`'s command line (empty when none). */
export function siteAdversarialSettings(command: Command): Record<string, unknown> {
  const o = command.opts();
  const config: PartialRunConfigInput = {};
  for (const flag of SITE_ADVERSARIAL_FLAGS) {
    if (command.getOptionValueSource(attributeName(flag.flags)) === 'cli') flag.apply!(config, o[attributeName(flag.flags)]);
  }
  const settings = (config.train as { adversarial?: Record<string, unknown> } | undefined)?.adversarial ?? {};
  if (settings.warmupRounds !== undefined && settings.eps === undefined) throw new FedtuneError('config', "--adv-warmup on a site ramps the site's own ε: it needs --adv-eps");
  // The run's rules on what the site typed (a field it left out is the coordinator's, not known to turn anything off):
  // --adv-eps 0 alone opts the site out; with another --adv-* flag, that flag would do nothing.
  refuseInactiveFlags(config, config as unknown as RunConfig, RUN_CONFIG_FLAG_NAMES, ADVERSARIAL_INACTIVE_RULES);
  return settings;
}

function formatDefault(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Adds every run-config flag to `command`. Help text shows the schema's defaults, or what the command puts
 * in their place (`shownDefaults`, by long flag: simulate waits for every site, not for the schema's 2).
 * Flags in `except` (long names) are left out: a command that sets those fields itself (sweep: rounds).
 */
export function addRunConfigOptions(command: Command, shownDefaults: Readonly<Record<string, string>> = {}, except: readonly string[] = []): Command {
  const defaults = runConfigDefaults();
  for (const flag of RUN_CONFIG_FLAGS) {
    if (except.includes(flag.flags.split(' ')[0])) continue;
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
  const dpNoiseMode = value('--dp-noise-mode <mode>') as 'central' | 'distributed' | undefined;
  if (dpNoiseMode !== undefined && dpNoise === undefined) throw new FedtuneError('config', '--dp-noise-mode needs --dp-noise');
  const dpSgdClip = value('--dp-sgd-clip <c>') as number | undefined;
  const dpSgdNoise = value('--dp-sgd-noise <z>') as number | undefined;
  if (dpClip !== undefined && dpNoise === undefined) throw new FedtuneError('config', '--dp-clip needs --dp-noise');
  if (dpNoise !== undefined) {
    config.dp = { noiseMultiplier: dpNoise, clip: dpClip?.clip ?? CLIP_WHEN_NOT_GIVEN, ...(dpClip?.adaptive ? { adaptive: dpClip.adaptive } : {}), ...(dpDelta !== undefined ? { delta: dpDelta } : {}), ...(dpNoiseMode !== undefined ? { noise: dpNoiseMode } : {}) };
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
  const config = mergeRunConfig(lower, flags, { flagNames: { ...RUN_CONFIG_FLAG_NAMES } });
  refuseInactiveFlags(flags, config, RUN_CONFIG_FLAG_NAMES);
  refuseInactiveRunConfig(config, file ? [{ values: file.values, path: file.path }] : []);
  return config;
}
