import { statSync } from 'node:fs';
import { FedtuneError } from '@fedtune/shared';
import { sweepRecordPath } from '../sweep/sweep-record.ts';

/**
 * Refuses (FedtuneError 'config', one line, before any work) a sweep directory the sweep cannot use: `dir` (from
 * `flag`, --out or --resume) that exists but is not a directory (it ended in `internal: EEXIST`), or whose
 * sweep.json is not a file (it ended in "not valid JSON: EISDIR").
 */
export function refuseUnusableSweepDir(flag: string, dir: string): void {
  const kind = (path: string) => {
    const s = statSync(path, { throwIfNoEntry: false });
    return s === undefined ? undefined : s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  };
  const at = kind(dir);
  if (at !== undefined && at !== 'directory') throw new FedtuneError('config', `${flag} ${dir} is ${at === 'file' ? 'a file' : 'not a regular directory'}, not a directory: give a directory for the sweep (it is created if missing)`);
  const record = sweepRecordPath(dir);
  const recordKind = at === undefined ? undefined : kind(record);
  if (recordKind !== undefined && recordKind !== 'file') throw new FedtuneError('config', `${flag} ${dir}: ${record} is a ${recordKind === 'directory' ? 'directory' : 'special file'}, not a sweep record: move it away or give another ${flag}`);
}
