import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withBuildLock } from '../../scripts/build.mjs';

/**
 * One build at a time per checkout (scripts/build.mjs): two `npm start`s at once after a change built the same
 * outputs side by side (a new user's audit). A second build waits for the first; a lock a killed build left is
 * taken over.
 */
const SCRIPTS = join(import.meta.dirname, '..', '..', 'scripts', 'build.mjs');

describe('the build lock', () => {
  it('a second build waits (one line) until the first releases the lock, then runs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedtune-build-lock-'));
    // Another process holds the lock for 1.5 s.
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `import { withBuildLock } from ${JSON.stringify(SCRIPTS)}; withBuildLock(${JSON.stringify(root)}, () => {}, () => { console.log('held'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    expect(Number(readFileSync(join(root, '.build-lock'), 'utf8'))).toBe(holder.pid);
    const lines: string[] = [];
    const started = Date.now();
    const result = withBuildLock(root, (l: string) => lines.push(l), () => {
      expect(Number(readFileSync(join(root, '.build-lock'), 'utf8'))).toBe(process.pid);
      return 'built';
    }, { pollMs: 20 });
    expect(result).toBe('built');
    expect(Date.now() - started).toBeGreaterThan(500);
    expect(lines).toEqual([`build: another build (pid ${holder.pid}) is running in this checkout; waiting for it to finish`]);
    expect(existsSync(join(root, '.build-lock'))).toBe(false);
    await new Promise((resolve) => holder.once('exit', resolve));
  });

  it('a lock whose process is gone is taken over at once; the lock goes when the build throws', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedtune-build-lock-'));
    // The pid of a build that was killed: a process that has exited (and been reaped).
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    writeFileSync(join(root, '.build-lock'), String(gone.pid));
    const lines: string[] = [];
    expect(() => withBuildLock(root, (l: string) => lines.push(l), () => {
      throw new Error('step failed');
    })).toThrow('step failed');
    expect(lines).toEqual([]);
    expect(existsSync(join(root, '.build-lock'))).toBe(false);
  });
});
