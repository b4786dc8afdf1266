import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirectories } from '@fedtune/shared/node';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * `mkdir -p` one directory at a time (shared/src/node/make-directories.ts). Node's own recursive mkdir never
 * returns on a path whose parent exists but mkdir(2) says ENOENT — `--out /proc/x` spun `fedtune simulate` at full
 * CPU, deaf to Ctrl-C.
 */
describe('makeDirectories', () => {
  it('creates the missing parents, and is a no-op on an existing directory', () => {
    const root = tempDir('fedtune-mkdirs-');
    const deep = join(root, 'a', 'b', 'c');
    makeDirectories(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeDirectories(deep);
    makeDirectories(root);
    makeDirectories(join(deep, '..', 'd'));
    expect(statSync(join(root, 'a', 'b', 'd')).isDirectory()).toBe(true);
  });

  it('a file in its place is EEXIST, a file as a parent ENOTDIR — nothing is created under it', () => {
    const root = tempDir('fedtune-mkdirs-');
    const file = join(root, 'f');
    writeFileSync(file, 'x');
    expect(() => makeDirectories(file)).toThrow(expect.objectContaining({ code: 'EEXIST', path: file }));
    expect(() => makeDirectories(join(file, 'x', 'y'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(statSync(file).isFile()).toBe(true);
  });

  it('a directory made by someone else meanwhile is fine; a permission error is thrown as is', () => {
    const root = tempDir('fedtune-mkdirs-');
    mkdirSync(join(root, 'x'));
    makeDirectories(join(root, 'x', 'y'));
    expect(existsSync(join(root, 'x', 'y'))).toBe(true);
    // sysfs refuses mkdir with EPERM (root included).
    expect(() => makeDirectories('/sys/fedtune-test/x')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EPERM|EACCES|EROFS)$/) }));
  });

  it('a directory mkdir(2) cannot create although its parent exists (/proc) throws ENOENT at once instead of looping', () => {
    expect(() => makeDirectories('/proc/fedtune-test/runs')).toThrow(expect.objectContaining({ code: 'ENOENT', path: '/proc/fedtune-test' }));
  });

  it('fedtune simulate --out /proc/…: one line naming the directory, exit 1 (before: the process never returned)', { timeout: 120_000 }, async () => {
    const run = fedtune(['simulate', '--out', '/proc/fedtune-test/runs', '--rounds', '1', '--sites', '2', '--transport', 'memory']);
    const timer = setTimeout(run.kill, 90_000);
    const exit = await run.done;
    clearTimeout(timer);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    expect(exit.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fedtune: persistence: cannot create the runs directory \/proc\/fedtune-test\/runs: ENOENT/)]);
  });
});
