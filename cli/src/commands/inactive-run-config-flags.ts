import { basename } from 'node:path';
import type { PartialRunConfigInput, RunConfig, RunConfigFile } from '@fedtune/coordinator/config';
import { FedtuneError, getStrategy } from '@fedtune/shared';

/**
 * Run-config flags that only act in some modes of the run. A flag typed on the command line whose mode the
 * final configuration does not have would be silently ignored; it is refused instead, with one line naming
 * the flag and what it needs (the partner-flag rule of run-config-flags.ts, for settings whose partner is a
 * mode). Only typed flags are checked: a config file or a preset may carry every field — except for the
 * rules marked `inFile`, whose fields have no effect in any run of that shape, whoever sets them: those are
 * refused when the config file sets them too. Defaults (the schema's, a preset's, a command's own) never are.
 */
export interface InactiveFlagRule {
  /** RunConfig fields (dotted) the rule covers. */
  fields: readonly string[];
  /** Whether the fields act in this configuration. */
  active: (config: RunConfig) => boolean;
  /** What the flag needs, after "<flag> has no effect here: it". */
  needs: string;
  /** Also refused when a config file sets one of the fields (the field can have no effect in such a run at all). */
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
export const ADVERSARIAL_INACTIVE_RULES: readonly InactiveFlagRule[] = [
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
];

export const INACTIVE_FLAG_RULES: readonly InactiveFlagRule[] = [
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
    fields: ['maxAccuracyDrop'],
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
    needs: 'bounds example-count weights: of the training average (not under client-level DP nor secure aggregation, nor with fedmedian, fedtrimmedavg, krum, multikrum, bulyan or centeredclip), of federated evaluation and of federated calibration, and this run has none of them',
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
    fields: ['expectedMaliciousSites'],
    active: krumFamily,
    needs: 'is the f of krum, multikrum and bulyan: it needs one of those --strategy',
  },
];

function typed(flags: PartialRunConfigInput, field: string): boolean {
  let value: unknown = flags;
  for (const key of field.split('.')) {
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<string, unknown>)[key];
  }
  return value !== undefined;
}

/**
 * Refuses (FedtuneError 'config') the first flag of `flags` — the partial config of the flags typed on the
 * command line — that has no effect in `config`, the run's final configuration, then the first field of
 * `file` under an `inFile` rule that has none. `flagNames`: field → flag.
 */
export function refuseInactiveFlags(flags: PartialRunConfigInput, config: RunConfig, flagNames: Readonly<Record<string, string>>, rules: readonly InactiveFlagRule[] = INACTIVE_FLAG_RULES, file?: RunConfigFile): void {
  for (const rule of rules) {
    if (rule.active(config)) continue;
    const field = rule.fields.find((f) => typed(flags, f));
    if (field !== undefined) throw new FedtuneError('config', `${flagNames[field] ?? field} has no effect here: it ${rule.needs}`);
  }
  if (!file) return;
  for (const rule of rules) {
    if (!rule.inFile || rule.active(config)) continue;
    const field = rule.fields.find((f) => typed(file.values, f));
    if (field !== undefined) throw new FedtuneError('config', `${field} (in ${basename(file.path)}) has no effect here: it ${rule.needs}`);
  }
}
