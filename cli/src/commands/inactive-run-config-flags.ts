import { ADVERSARIAL_INACTIVE_RULES, firstInactiveField, INACTIVE_FIELD_RULES, inactiveFieldMessage, type InactiveFieldRule, type PartialRunConfigInput, type RunConfig } from '@fedtune/coordinator/config';
import { FedtuneError } from '@fedtune/shared';

/**
 * Run-config flags typed on the command line whose mode the final configuration does not have would be silently
 * ignored; they are refused instead, with one line naming the flag and what it needs (the partner-flag rule of
 * run-config-flags.ts, for settings whose partner is a mode). The rules themselves, and the refusal of fields a
 * config file (or an HTTP body, or a resume) sets where they can have no effect, live in the coordinator's
 * config (coordinator/src/config/inactive-run-config.ts), which every entry point of a run config uses.
 */
export { ADVERSARIAL_INACTIVE_RULES };

/**
 * Refuses (FedtuneError 'config') the first flag of `flags` — the partial config of the flags typed on the
 * command line — that has no effect in `config`, the run's final configuration. `flagNames`: field → flag.
 */
export function refuseInactiveFlags(flags: PartialRunConfigInput, config: RunConfig, flagNames: Readonly<Record<string, string>>, rules: readonly InactiveFieldRule[] = INACTIVE_FIELD_RULES): void {
  const found = firstInactiveField(flags, config, rules);
  if (found) throw new FedtuneError('config', inactiveFieldMessage(flagNames[found.field] ?? found.field, found.rule));
}
