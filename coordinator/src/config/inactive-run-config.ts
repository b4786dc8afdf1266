import { basename } from 'node:path';
import { FedtuneError, getStrategy } from '@fedtune/shared';
import type { RunConfig } from '../engine/run-config.ts';

/**
 * Run-config settings that act only in some runs. A setting given where it can have no effect would be
 * silently ignored; it is refused instead, with one line naming it and what it needs. This is the one place
 * these rules live: the CLI (its typed flags and its `--config` file), a run config posted over HTTP
 * (`POST /api/runs`) and a resume's settings (`fedtune coordinator --resume`, resume-config.ts) all check
 * against it, so the same config is refused the same way wherever it enters.
 *
 * Rules marked `inFile` cover fields that have no effect in any run of that shape, whoever sets them: they are
 * refused when any source gives them (a flag, a config file, an HTTP body, a resume's file). The other rules
 * cover modes a config file or a preset may carry every field of (a file with `personalization.epochs` and
 * `mode: none` is a template): only a flag typed on the command line is refused for them
 * (cli/src/commands/inactive-run-config-flags.ts). Defaults (the schema's, a preset's, a command's own) never are.
 */
export interface InactiveFieldRule {
  /** RunConfig fields (dotted) the rule covers. */
  fields: readonly string[];
  /** Whether the fields act in this configuration. */
  active: (config: RunConfig) => boolean;
  /** What the field needs, after "<field> has no effect here: it". */
  needs: string;
  /** Refused whoever sets the field (config file, HTTP body, resume), not only when a flag is typed. */
  inFile?: boolean;
}

const krumFamily = (config: RunConfig) => getStrategy(config.strategy).completeOptions !== undefined;

/**
 * Whether `exampleWeightCap` bounds anything in the run: the weights of the training average (not under
 * client-level DP, which weighs every site equally, nor secure aggregation, where the sites weigh their own
 * updates, nor with a strategy that ignores example counts), of the federated evaluation, or of a federated
 * temperature fit (calibration.source federated, where robustness is evaluated).
 */
export function exampleWeightCapActive(c: RunConfig): boolean {
  const training = c.dp === undefined && c.secureAggregation === undefined && !getStrategy(c.strategy).ignoresExampleCounts;
  const federatedCalibration = c.calibration.source === 'federated' && c.robustness.when !== 'never';
  return training || c.federatedEvaluation !== 'never' || federatedCalibration;
}

/** The adversarial settings of a (possibly partial) config: a field left out is not known to switch anything off. */
const adversarialOf = (c: RunConfig): Partial<NonNullable<RunConfig['train']['adversarial']>> => c.train?.adversarial ?? {};
const adversarialOff = (c: RunConfig) => adversarialOf(c).eps === 0 || adversarialOf(c).share === 0;

/** The adversarial-training rules, on the run's config and on a site's own --adv-* flags (siteAdversarialSettings). */
export const ADVERSARIAL_INACTIVE_RULES: readonly InactiveFieldRule[] = [
  {
    fields: ['train.adversarial.method', 'train.adversarial.steps', 'train.adversarial.stepSize', 'train.adversarial.norm', 'train.adversarial.epsUnits', 'train.adversarial.warmupRounds', 'train.adversarial.space', 'train.adversarial.beta', 'train.adversarial.awp', 'train.adversarial.attackLoss'],
    active: (c) => !adversarialOff(c),
    needs: 'sets adversarial training, which ε 0 or share 0 turns off (--adv-eps, --adv-share)',
    inFile: true,
  },
  {
    fields: ['train.adversarial.share'],
    active: (c) => adversarialOf(c).eps !== 0,
    needs: 'is the adversarial share of a batch, but ε 0 turns adversarial training off (--adv-eps)',
    inFile: true,
  },
  {
    fields: ['train.adversarial.eps'],
    active: (c) => adversarialOf(c).share !== 0,
    needs: 'is the radius of adversarial training, which share 0 turns off (--adv-share)',
    inFile: true,
  },
  {
    fields: ['train.adversarial.steps', 'train.adversarial.stepSize'],
    active: (c) => adversarialOf(c).method !== 'fgsm',
    needs: 'sets the PGD / TRADES iterations: FGSM takes one step of ε (--adv-method pgd or trades)',
    inFile: true,
  },
  // A method left out (a site's own flags) is the coordinator's, which may be TRADES: only a method given decides.
  {
    fields: ['train.adversarial.beta'],
    active: (c) => adversarialOf(c).method === undefined || adversarialOf(c).method === 'trades',
    needs: "is the weight of TRADES's KL term: it needs --adv-method trades",
    inFile: true,
  },
  {
    fields: ['train.adversarial.attackLoss'],
    active: (c) => adversarialOf(c).method !== 'trades' && adversarialOf(c).space !== 'embedding',
    needs: 'is the loss of the FGSM / PGD attack on the input: TRADES climbs its own KL, embedding perturbations the cross-entropy (--adv-method fgsm or pgd, --adv-space input)',
    inFile: true,
  },
];

export const INACTIVE_FIELD_RULES: readonly InactiveFieldRule[] = [
  {
    fields: ['personalization.epochs', 'personalization.learningRate', 'personalization.validate', 'personalization.localOnly'],
    active: (c) => c.personalization.mode !== 'none',
    needs: 'needs --personalize (head, lp-ft, fedbn, ditto or auto)',
  },
  {
    fields: ['personalization.lambda'],
    active: (c) => c.personalization.mode === 'ditto' || c.personalization.mode === 'auto',
    needs: "is Ditto's λ: it needs --personalize ditto or auto",
  },
  {
    fields: ['personalization.guard', 'personalization.guardEps', 'personalization.selection', 'personalization.selectionMargin'],
    active: (c) => c.personalization.mode === 'auto',
    needs: "sets --personalize auto's model selection: it needs --personalize auto",
  },
  {
    fields: ['personalization.folds'],
    active: (c) => c.personalization.mode === 'auto' && c.personalization.selection === 'kfold',
    needs: 'needs --personalize auto with --personalize-selection kfold',
  },
  {
    fields: ['siteRobustness.examples'],
    active: (c) => c.siteRobustness.when !== 'never',
    needs: 'needs --site-robustness final',
  },
  {
    fields: ['robustness.examples', 'robustness.certify', 'calibration.source'],
    active: (c) => c.robustness.when !== 'never',
    needs: 'acts where robustness is evaluated: it needs --robustness final, every-round or K (not never)',
  },
  {
    fields: ['evaluationFraction', 'maxEvaluationSites'],
    active: (c) => c.federatedEvaluation !== 'never',
    needs: 'sizes the federated evaluation: it needs --federated-eval final or every-round (not never)',
  },
  {
    fields: ['maxAccuracyDrop', 'maxAccuracyDropFromBest'],
    active: (c) => c.dp === undefined,
    needs: 'is not applied under client-level DP (--dp-noise), whose noise lowers accuracy by design (docs/robustness.md#poisoning-safe-defaults)',
  },
  {
    fields: ['normBoundMultiple'],
    active: (c) => c.dp === undefined && c.secureAggregation === undefined,
    needs: 'is not applied under client-level DP (every update is clipped) nor secure aggregation (the norms are hidden; sites clip): docs/robustness.md#poisoning-safe-defaults',
  },
  {
    fields: ['stragglers.waitAfterQuorumMs'],
    active: (c) => c.secureAggregation === undefined,
    needs: 'closes a plain round early; a secure-aggregation round has its own phase deadlines (secureAggregation.phaseTimeoutMs)',
  },
  {
    fields: ['exampleWeightCap'],
    active: exampleWeightCapActive,
    needs: 'bounds example-count weights: of the training average (not under client-level DP nor secure aggregation, nor with fedmedian, fedtrimmedavg, krum, multikrum, bulyan or centeredclip), of federated evaluation and calibration; this run has none of them',
    inFile: true,
  },
  {
    fields: ['train.learningRateSchedule'],
    active: (c) => c.train.learningRateSchedule?.kind !== 'step' || c.train.learningRateSchedule.every < c.rounds,
    needs: 'never changes the rate: step:EVERY needs EVERY below the run\'s rounds (--rounds)',
    inFile: true,
  },
  ...ADVERSARIAL_INACTIVE_RULES,
  {
    // The warm-up trains round r at ε·r/k: with k above the run's rounds the run ends below ε and never trains at
    // the ε it states (finding: `--adv-warmup 5 --rounds 2` trained at 0.02 and 0.04 of 0.1, silently).
    fields: ['train.adversarial.warmupRounds'],
    active: (c) => (adversarialOf(c).warmupRounds ?? 0) <= c.rounds,
    needs: "ends after the run: a warm-up of k rounds reaches ε (--adv-eps) in round k, so k above the run's rounds (--rounds) never trains at ε",
    inFile: true,
  },
  {
    // The final model is the mean of the last N rounds' models: with N above the run's rounds there are fewer to
    // average, and the N stated is not what the run does (finding: `--average-rounds 5 --rounds 2`, silently).
    fields: ['averageRounds'],
    active: (c) => c.averageRounds <= c.rounds,
    needs: "averages the last N rounds' global models: N above the run's rounds (--rounds) has fewer rounds to average",
    inFile: true,
  },
  {
    fields: ['expectedMaliciousSites'],
    active: krumFamily,
    needs: 'is the f of krum, multikrum and bulyan: it needs one of those --strategy',
  },
];

/** Whether the (partial, possibly untyped) config `given` sets the dotted `field` (a null section sets nothing). */
export function setsField(given: unknown, field: string): boolean {
  let value: unknown = given;
  for (const key of field.split('.')) {
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<string, unknown>)[key];
  }
  return value !== undefined;
}

/** The first field `given` sets that a rule of `rules` says has no effect in `config`, with that rule. */
export function firstInactiveField(given: unknown, config: RunConfig, rules: readonly InactiveFieldRule[]): { field: string; rule: InactiveFieldRule } | undefined {
  for (const rule of rules) {
    if (rule.active(config)) continue;
    const field = rule.fields.find((f) => setsField(given, f));
    if (field !== undefined) return { field, rule };
  }
  return undefined;
}

/** One line: "<name> has no effect here: it <needs>". */
export function inactiveFieldMessage(name: string, rule: InactiveFieldRule): string {
  return `${name} has no effect here: it ${rule.needs}`;
}

/**
 * A training setting the run gives that the strategy's configureTrain replaces with another value (FedProx sends
 * its option μ as `train.proximalMu`) would be silently dropped: refused, so the value has one place — the
 * strategy's option. The same value in both is accepted.
 */
export function refuseTrainSettingsTheStrategyOverrides(config: RunConfig): void {
  const strategy = getStrategy(config.strategy);
  if (!strategy.configureTrain) return;
  const given = config.train as Record<string, unknown>;
  const sent = strategy.configureTrain(config.train, { round: 1, state: strategy.initialState(config.strategyOptions), options: config.strategyOptions }) as Record<string, unknown>;
  for (const [key, value] of Object.entries(sent)) {
    if (given[key] === undefined || given[key] === value || typeof value === 'object') continue;
    throw new FedtuneError('config', `train.${key} ${JSON.stringify(given[key])} is replaced by strategy "${strategy.name}", which sends its option ${key} (${JSON.stringify(value)}): give it once, as the strategy option (--strategy-opt ${key}=${JSON.stringify(given[key])}, strategyOptions.${key} in a file)`);
  }
}

/** One source of a run's settings: its (partial) values and how a field it sets is named in a refusal. */
export interface RunConfigSource {
  values: unknown;
  /** A config file's path: the field is named "<field> (in <file>)". */
  path?: string;
  /** Field → command-line flag, for settings typed as flags. */
  flagNames?: Readonly<Record<string, string>>;
}

/**
 * Refuses (FedtuneError 'config', one line) a run configuration with a setting that can have no effect in it:
 * the first field a source sets under an `inFile` rule that does not act in `config` (the run's final
 * configuration), then a training setting the strategy would replace. `sources`: what was given (a config file,
 * an HTTP body, a resume's file and flags); fields they leave to the defaults are never refused.
 */
export function refuseInactiveRunConfig(config: RunConfig, sources: readonly RunConfigSource[] = []): void {
  const always = INACTIVE_FIELD_RULES.filter((r) => r.inFile);
  for (const source of sources) {
    const found = firstInactiveField(source.values, config, always);
    if (!found) continue;
    const name = source.flagNames?.[found.field] ?? (source.path ? `${found.field} (in ${basename(source.path)})` : found.field);
    throw new FedtuneError('config', inactiveFieldMessage(name, found.rule));
  }
  refuseTrainSettingsTheStrategyOverrides(config);
}
