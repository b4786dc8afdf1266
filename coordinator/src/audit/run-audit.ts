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
}

/** Opens a run's audit log in its directory, continuing (after verifying) the chain it holds: before anything else of the run starts. */
export function openRunAuditLog(runDir: string, onWarning?: (message: string) => void): AuditLog {
  return AuditLog.open(join(runDir, AUDIT_FILE), {
    onWriteError: (err) => onWarning?.(`could not write the audit log: ${String((err as Error)?.message ?? err).slice(0, 500)}`),
    onRecovered: (message) => onWarning?.(message),
  });
}

/** Records the run's start in its audit log; the recorder then takes the run's engine events. */
export function startRunAudit(log: AuditLog, options: RunAuditOptions): { log: AuditLog; recorder: AuditRecorder } {
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
