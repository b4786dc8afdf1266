import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm test` (scripts/test.mjs) gives the tests one temporary directory of the run's (TMPDIR) and removes it when
 * the run ends: before, every run left ~1,000 directories in /tmp, and mutation runs tens of thousands, until a
 * crowded /tmp slowed esbuild's bundling of a checkout there from 14 s to 253 s.
 */
describe('npm test leaves nothing in the temporary directory', () => {
  it('a run of a test file that makes temporary directories leaves the TMPDIR it was given as it found it', () => {
    const outer = mkdtempSync(join(tmpdir(), 'fedtune-outer-tmp-'));
    try {
      const run = spawnSync(process.execPath, ['scripts/test.mjs', 'tests/persistence/fsync-dir-async.test.ts'], {
        encoding: 'utf8',
        env: { ...process.env, TMPDIR: outer, TMP: outer, TEMP: outer },
        timeout: 110_000,
      });
      expect(run.stdout, run.stderr).toMatch(/^2 passed, 0 failed$/m);
      expect(run.status).toBe(0);
      // The test file made two fedtune-fsync-* directories: they were under the run's directory, now gone with it.
      expect(readdirSync(outer)).toEqual([]);
    } finally {
      rmSync(outer, { recursive: true, force: true });
    }
  }, 120_000);
});
