import { InvalidArgumentError } from 'commander';
import { isFedtuneError } from '@fedtune/shared';

/** Node system errors a user meets, as one line saying what to do. */
const SYSTEM: Record<string, (e: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }) => string> = {
  EADDRINUSE: (e) => `port ${e.port ?? ''} on ${e.address ?? 'this host'} is already in use: stop what is listening there or pick another port with --port`,
  EADDRNOTAVAIL: (e) => `cannot bind ${e.address ?? 'that address'}: it is not an address of this machine (--host)`,
  EACCES: (e) => (e.syscall === 'listen' ? `not allowed to listen on port ${e.port ?? ''}: ports below 1024 need privileges; pick another with --port` : `permission denied: ${e.path ?? e.message}`),
  ENOENT: (e) => `no such file or directory: ${e.path ?? e.message}`,
  EISDIR: (e) => `expected a file but found a directory: ${e.path ?? e.message}`,
  ENOSPC: () => 'the disk is full',
  EROFS: (e) => `read-only file system: ${e.path ?? e.message}`,
  ECONNREFUSED: (e) => `connection refused by ${e.address ?? ''}${e.port ? `:${e.port}` : ''}: is the coordinator running there?`,
  ENOTFOUND: (e) => `cannot resolve host ${e.hostname ?? ''}: check the URL`,
};

/** The first line of a message, bounded (a stack or a multi-megabyte message never reaches the terminal). */
function firstLine(text: string): string {
  const line = text.split('\n', 1)[0];
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** Most lines of a multi-line FedtuneError printed (a config file's problems, one per line). */
const MAX_PROBLEM_LINES = 20;

/** A FedtuneError's lines, each bounded, at most MAX_PROBLEM_LINES of them and a count of the rest. */
function problemLines(text: string): string {
  const lines = text.split('\n');
  const shown = lines.slice(0, MAX_PROBLEM_LINES).map(firstLine);
  if (lines.length > MAX_PROBLEM_LINES) shown.push(`… and ${lines.length - MAX_PROBLEM_LINES} more`);
  return shown.join('\n');
}

/**
 * Control characters (but newlines) as "?": a message quoting a file's bytes (a JSON parser's excerpt of a
 * binary file, a CSV cell) must not put escape sequences on the operator's terminal.
 */
function printable(text: string): string {
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '?');
}

/**
 * What the CLI prints for an error: one line, never a stack trace (set FEDTUNE_DEBUG=1 for the stack), and no
 * control characters. FedtuneErrors keep their code; Node system errors get a line saying what to do.
 */
export function describeError(err: unknown): string {
  return printable(describe(err));
}

function describe(err: unknown): string {
  if (isFedtuneError(err)) return `${err.code}: ${err.message.includes('\n') ? problemLines(err.message) : firstLine(err.message)}`;
  if (err instanceof InvalidArgumentError) return firstLine(err.message);
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && Object.hasOwn(SYSTEM, e.code)) return SYSTEM[e.code](e);
  if (e && typeof e === 'object' && e.code === 'ERR_SOCKET_BAD_PORT') return `invalid port: ${firstLine(e.message)}`;
  return `internal: ${firstLine(err instanceof Error ? err.message : String(err))}`;
}
