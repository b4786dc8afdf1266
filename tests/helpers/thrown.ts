import { expect } from 'vitest';
// Imported from the file, not the package index: mutation runs load these tests without tfjs.
import { FedtuneError } from '../../shared/src/errors.ts';

/** The FedtuneError `fn` throws (fails the test if it returns, or throws anything else). */
export function thrown(fn: () => unknown): FedtuneError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FedtuneError);
    return e as FedtuneError;
  }
  throw new Error('expected a FedtuneError, nothing was thrown');
}

/** The code and message of the FedtuneError `fn` throws, as a plain object (for `toEqual`). */
export function thrownCodeAndMessage(fn: () => unknown): { code: string; message: string } {
  const e = thrown(fn);
  return { code: e.code, message: e.message };
}

/** The FedtuneError the promise `fn` returns rejects with (or `fn` throws). */
export async function thrownAsync(fn: () => Promise<unknown>): Promise<FedtuneError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FedtuneError);
    return e as FedtuneError;
  }
  throw new Error('expected a FedtuneError, nothing was thrown');
}
