import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The `fedtune` command as `npm install` links it. */
export const FEDTUNE_BIN = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'fedtune');

export interface FedtuneExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `fedtune` CLI as a child process. `onLine` sees every stdout line as it comes (with the
 * child, e.g. to kill it after a given round); `closeStdout` closes our end of its stdout at once (as
 * `| head` does).
 */
export function fedtune(
  args: string[],
  onLine?: (line: string, child: ChildProcess) => void,
  options: { closeStdout?: boolean; env?: NodeJS.ProcessEnv } = {},
): { child: ChildProcess; done: Promise<FedtuneExit>; kill: () => void } {
  const child = spawn(FEDTUNE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.env ? { env: options.env } : {}) });
  let stdout = '';
  let stderr = '';
  if (options.closeStdout) child.stdout!.destroy();
  else {
    child.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      stdout += text;
      if (onLine) for (const line of text.split('\n')) if (line) onLine(line, child);
    });
  }
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<FedtuneExit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, kill: () => child.kill('SIGKILL') };
}

/**
 * Starts `fedtune coordinator` with `args`; `url` resolves with the URL it prints once listening
 * ("listening on URL;"), or undefined if the process ends first.
 */
export function fedtuneCoordinator(args: string[], options: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): ReturnType<typeof fedtune> & { url: Promise<string | undefined> } {
  let resolveUrl!: (url: string | undefined) => void;
  const url = new Promise<string | undefined>((r) => (resolveUrl = r));
  const run = fedtune(['coordinator', ...args], (line) => {
    options.onLine?.(line);
    const m = /listening on (http:\/\/\S+);/.exec(line);
    if (m) resolveUrl(m[1]);
  }, { env: options.env });
  void run.done.then(() => resolveUrl(undefined));
  return { ...run, url };
}
