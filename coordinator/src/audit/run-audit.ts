import { join } from 'node:path';
import type { WeightArrays, WeightsManifest } from '@fedtune/shared';
import { AUDIT_FILE, AuditLog } from './audit-log.ts';
import { AuditRecorder, configHash, weightsHash } from './audit-recorder.ts';

export interface RunAuditOptions {
  config: { runId: string };
  manifest: WeightsManifest;
  /** The weights the run starts (or resumes) from. */
  weights: WeightArrays;
  resumedAfterRound?: number;
  onWarning?: (message: string) => void;
}

/** Opens a run's audit log in its directory (continuing its chain) and records the run's start. */
export function openRunAudit(runDir: string, options: RunAuditOptions): { log: AuditLog; recorder: AuditRecorder } {
  const log = AuditLog.open(join(runDir, AUDIT_FILE), {
    onWriteError: (err) => options.onWarning?.(`could not write the audit log: ${String((err as Error)?.message ?? err).slice(0, 500)}`),
  });
  const recorder = new AuditRecorder(log, options.manifest);
  recorder.runStart({
    runId: options.config.runId,
    configSha256: configHash(options.config),
    modelSha256: weightsHash(options.manifest, options.weights),
    ...(options.resumedAfterRound !== undefined ? { resumedAfterRound: options.resumedAfterRound } : {}),
  });
  log.flush();
  return { log, recorder };
}
