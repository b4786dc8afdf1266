// A test or mutation run's own temporary directory: every temporary file and directory the tests, their
// coordinators, sites and browsers make (os.tmpdir() reads TMPDIR) lands under it, and it is removed when the
// run ends, passed or failed. Before, each `npm test` left ~1,000 directories in /tmp and a mutation run tens of
// thousands (35,000 here): a crowded /tmp slowed every tool that scans its parent directories (esbuild bundled
// a checkout under /tmp in 253 s instead of 14 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Makes the run's directory under the system's temporary directory; `env` gives it to a child process. */
export function scratchTmpdir(label) {
  const dir = mkdtempSync(join(tmpdir(), `fedtune-${label}-run-`));
  return {
    dir,
    env: { TMPDIR: dir, TMP: dir, TEMP: dir },
    /** Removes the directory and everything in it (a process that still writes there is not waited for). */
    remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }),
  };
}
