import type { PartialRunConfigInput, RunConfig } from '@fedtune/coordinator/config';
import { FedtuneError, getStrategy } from '@fedtune/shared';

/**
 * Run-config flags that only act in some modes of the run. A flag typed on the command line whose mode the
 * final configuration does not have would be silently ignored; it is refused instead, with one line naming
 * the flag and what it needs (the partner-flag rule of run-config-flags.ts, for settings whose partner is a
 * mode). Only typed flags are checked: a config file or a preset may carry every field.
 */
export interface InactiveFlagRule {
  /** RunConfig fields (dotted) the rule covers. */
  fields: readonly string[];
  /** Whether the fields act in this configuration. */
  active: (config: RunConfig) => boolean;
  /** What the flag needs, after "<flag> has no effect here: it". */
  needs: string;
}

const krumFamily = (config: RunConfig) => getStrategy(config.strategy).completeOptions !== undefined;

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
 * command line — that has no effect in `config`, the run's final configuration. `flagNames`: field → flag.
 */
export function refuseInactiveFlags(flags: PartialRunConfigInput, config: RunConfig, flagNames: Readonly<Record<string, string>>, rules: readonly InactiveFlagRule[] = INACTIVE_FLAG_RULES): void {
  for (const rule of rules) {
    if (rule.active(config)) continue;
    const field = rule.fields.find((f) => typed(flags, f));
    if (field !== undefined) throw new FedtuneError('config', `${flagNames[field] ?? field} has no effect here: it ${rule.needs}`);
  }
}
