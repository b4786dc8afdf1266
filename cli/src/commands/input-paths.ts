import { statSync } from 'node:fs';
import { clipText, FedtuneError } from '@fedtune/shared';

/** What an input option names: a file, a directory, or either (a site's CSV or its folder of images). */
export type InputPathKind = 'file' | 'directory' | 'file or directory';

/** One option that names something to read: its flag, the value typed (undefined when not given) and what it must be. */
export interface InputPath {
  option: string;
  path: string | undefined;
  kind: InputPathKind;
}

/** Longest path quoted in the line (a path is the user's own, but a pasted blob must not flood the terminal). */
const MAX_PATH_CHARS = 200;

/**
 * Refuses a command line whose input options name nothing on disk, before the command does anything else
 * (no backend started, no directory or database created): one line naming the option and the path, e.g.
 * `not_found: --data /srv/x.csv: no such file or directory`. Only existence and file-vs-directory are
 * checked here; each reader still checks the contents.
 */
export function refuseMissingInputPaths(inputs: readonly InputPath[]): void {
  for (const { option, path, kind } of inputs) {
    if (path === undefined) continue;
    const quoted = clipText(path, MAX_PATH_CHARS);
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new FedtuneError('not_found', `${option} ${quoted}: no such ${kind}`, { cause });
      throw new FedtuneError('not_found', `${option} ${quoted}: cannot be read (${code ?? 'error'})`, { cause });
    }
    if (kind === 'file' && isDirectory) throw new FedtuneError('config', `${option} ${quoted}: is a directory, not a file`);
    if (kind === 'directory' && !isDirectory) throw new FedtuneError('config', `${option} ${quoted}: is a file, not a directory`);
  }
}
