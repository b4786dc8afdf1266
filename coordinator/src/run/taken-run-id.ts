import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FedtuneError } from '@fedtune/shared';
import { AUDIT_FILE } from '../audit/audit-log.ts';
import { RunStore } from './run-store.ts';

/** Whether `runDir` holds a run that started: its report, checkpoints or audit log (a created run has only config.json). */
export function holdsRun(runDir: string): boolean {
  return ['report.json', 'checkpoints', AUDIT_FILE].some((name) => existsSync(join(runDir, name)));
}

/**
 * Refuses a new run whose id names a run of `runsDir` that started (a new run never writes over another's report,
 * checkpoints and audit chain), or an id the runs directory cannot hold. The CLI asks before it listens; every
 * entry point asks again when the run starts.
 */
export function refuseTakenRunId(runsDir: string, runId: string): void {
  const runDir = new RunStore(runsDir).newRunDir(runId);
  if (holdsRun(runDir)) {
    throw new FedtuneError('config', `run ${runId} already exists in ${runsDir}: give another run id (or none, and a new one is made), or resume it (fedtune coordinator --resume ${runId})`);
  }
}
