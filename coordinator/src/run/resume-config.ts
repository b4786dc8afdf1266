import { join } from 'node:path';
import { FedtuneError } from '@fedtune/shared';
import { mergeRunConfig, type PartialRunConfigInput, type RunConfigFile } from '../config/run-config-file.ts';
import type { RunConfig } from '../engine/run-config.ts';
import { refuseInactiveRunConfig } from '../config/inactive-run-config.ts';
import { CheckpointStore } from '../persistence/checkpoint-store.ts';

/** One setting a resume changes from what the run was started with. */
export interface ConfigChange {
  /** Dotted field name, e.g. `train.epochs`. */
  field: string;
  from: unknown;
  to: unknown;
}

export interface ResumedConfig {
  config: RunConfig;
  /** Settings given on resume (file or flags) that differ from the checkpointed run's, in field order. */
  changes: ConfigChange[];
}

function leaves(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value);
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The configuration to resume run `runId` with: the run's own, as its latest good checkpoint recorded
 * it, overridden only by what is given now (a config file, then command-line flags), with the list of
 * settings that changed. The checkpoint is the truth: a bare resume continues exactly the run that was
 * started. Throws FedtuneError('not_found') when the run has no usable checkpoint, and FedtuneError('config')
 * when what is given now sets a field that can have no effect in the resumed run (inactive-run-config.ts, as
 * for a new run's file or HTTP body; `flagNames` names the flags a command line typed).
 */
export function resumeRunConfig(runsDir: string, runId: string, given: { file?: RunConfigFile; flags?: PartialRunConfigInput; flagNames?: Readonly<Record<string, string>> } = {}): ResumedConfig {
  const latest = new CheckpointStore(join(runsDir, runId)).latest();
  const recorded = latest.checkpoint?.report.config as PartialRunConfigInput | undefined;
  if (!recorded) throw new FedtuneError('not_found', `run ${runId} has no usable checkpoint in ${join(runsDir, runId, 'checkpoints')}: nothing to resume`);
  const base = mergeRunConfig(recorded, { runId });
  const withFile = given.file ? mergeRunConfig({ ...base }, given.file.values) : base;
  const config = mergeRunConfig({ ...withFile }, { ...given.flags, runId });
  refuseInactiveRunConfig(config, [
    ...(given.flags ? [{ values: given.flags, flagNames: given.flagNames ?? {} }] : []),
    ...(given.file ? [{ values: given.file.values, path: given.file.path }] : []),
  ]);
  const before = leaves(base);
  const after = leaves(config);
  const changes: ConfigChange[] = [];
  for (const [field, to] of after) {
    const from = before.get(field);
    if (!same(from, to)) changes.push({ field, from, to });
  }
  for (const [field, from] of before) if (!after.has(field)) changes.push({ field, from, to: undefined });
  return { config, changes };
}
