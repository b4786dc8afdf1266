import { FedtuneError } from '@fedtune/shared';
import { makeDirectories } from '@fedtune/shared/node';

/**
 * Creates the directory `path` (and its parents) where the coordinator keeps `what` ("runs directory").
 * A file in its place (`--out /etc/passwd`) is FedtuneError('config'); a directory it may not create
 * (permissions, a read-only or virtual file system) is 'persistence' — one line naming the path, never a raw
 * EEXIST.
 */
export function ensureDirectory(path: string, what: string): void {
  try {
    makeDirectories(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new FedtuneError('config', `the ${what} ${path} is a file (or inside one), not a directory`, { cause });
    throw new FedtuneError('persistence', `cannot create the ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}
