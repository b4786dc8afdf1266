import { readFileSync, statSync } from 'node:fs';
import { FedtuneError, type FedtuneErrorCode } from '../errors.ts';

/** How a file the user names is described and refused: its kind in messages, the error code, a size bound. */
export interface InputFileRules {
  /** What the file is, in messages ("run configuration", "site policy", "model weights"). */
  what: string;
  /** The code of the FedtuneError a bad file raises ('config', 'data'…). */
  code: FedtuneErrorCode;
  /** The code when there is no file at the path (default: `code`). */
  missingCode?: FedtuneErrorCode;
  /** Largest size read, in bytes (default: no bound beyond the file's own size). */
  maxBytes?: number;
}

/** "a" or "an" before the name of a file's kind. */
function article(what: string): string {
  return /^[aeiou]/i.test(what) ? 'an' : 'a';
}

/** A size for a message: "1.5 MB". */
function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

/**
 * Checks that `path` names a regular file of at most `maxBytes`, and returns its size. A FIFO, a socket or a
 * device (`/dev/zero`, a named pipe nothing writes to) is refused: reading one would block for ever or never
 * end. Every refusal is one FedtuneError line naming the path and what was expected.
 */
export function checkInputFile(path: string, rules: InputFileRules): number {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FedtuneError(rules.missingCode ?? rules.code, `no ${rules.what} at ${path}`, { cause });
    throw new FedtuneError(rules.code, `cannot read ${rules.what} ${path}: ${(cause as Error).message}`, { cause });
  }
  if (stats.isDirectory()) throw new FedtuneError(rules.code, `${path} is a directory, not ${article(rules.what)} ${rules.what} file`);
  if (!stats.isFile()) throw new FedtuneError(rules.code, `${path} is not a regular file (a pipe, socket or device): ${article(rules.what)} ${rules.what} must be a file`);
  const maxBytes = rules.maxBytes ?? Number.POSITIVE_INFINITY;
  if (stats.size > maxBytes) throw new FedtuneError(rules.code, `${path} is ${megabytes(stats.size)}, more than ${article(rules.what)} ${rules.what} may be (${megabytes(maxBytes)})`);
  return stats.size;
}

/** The bytes of a regular file the user named, checked as `checkInputFile` does. */
export function readInputFile(path: string, rules: InputFileRules): Buffer {
  checkInputFile(path, rules);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new FedtuneError(rules.code, `cannot read ${rules.what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** The text (UTF-8) of a regular file the user named, without a leading byte-order mark (Windows editors write one). */
export function readInputText(path: string, rules: InputFileRules): string {
  const text = readInputFile(path, rules).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Largest PEM file (a certificate chain or a key) read: real ones are a few kilobytes. */
export const PEM_MAX_BYTES = 1024 * 1024;
