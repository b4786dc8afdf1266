import { FedtuneError } from '@fedtune/shared';

/**
 * Runs one write of the run's state (checkpoint, report); a failure (read-only or full disk, a path taken by
 * something else) becomes FedtuneError('persistence') naming what could not be saved, which ends the run cleanly.
 */
export async function saving<T>(what: string, write: () => Promise<T> | T): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof FedtuneError && err.code === 'persistence') throw err;
    const e = err as NodeJS.ErrnoException;
    const message = String(e?.message ?? err).slice(0, 500);
    throw new FedtuneError('persistence', `cannot save ${what}: ${message}${e?.code === 'EACCES' || e?.code === 'EROFS' ? ' (is the run directory writable?)' : ''}`, { cause: err });
  }
}
