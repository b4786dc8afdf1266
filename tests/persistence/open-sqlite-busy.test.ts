import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminTokenStore, openSqlite, retryWhileBusy, RunDatabase, SiteTokenStore, SQLITE_BUSY_TIMEOUT_MS } from '@fedtune/coordinator';
import { FedtuneError } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';

const busy = (code = 'SQLITE_BUSY') => Object.assign(new Error('database is locked'), { code });

/** Another process holding `path` with an exclusive lock until killed (it prints "held" once it holds it). */
async function holdExclusively(path: string): Promise<() => Promise<void>> {
  const script = `const D = require('better-sqlite3'); const db = new D(process.argv[1]); db.exec('CREATE TABLE IF NOT EXISTS held (a)'); db.exec('BEGIN EXCLUSIVE'); console.log('held'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`the holder exited (${code})`)));
  });
  return async () => {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
}

describe('opening a SQLite file another process holds', () => {
  it('retryWhileBusy: a busy answer is retried until the step succeeds; any other error is thrown at once', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED']) {
      let calls = 0;
      expect(retryWhileBusy('x.db', 1_000, () => (++calls < 3 ? (() => { throw busy(code); })() : 'opened')), code).toBe('opened');
      expect(calls, code).toBe(3);
    }
    let calls = 0;
    const other = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    expect(() => retryWhileBusy('x.db', 1_000, () => { calls++; throw other; })).toThrow(other);
    expect(calls).toBe(1);
    // An error without a code, or with a code that is not a string, is not a busy answer either.
    for (const odd of [new Error('database is locked'), Object.assign(new Error('x'), { code: 5 }), 'SQLITE_BUSY', undefined]) {
      calls = 0;
      expect(() => retryWhileBusy('x.db', 1_000, () => { calls++; throw odd; })).toThrow();
      expect(calls).toBe(1);
    }
  });

  it('retryWhileBusy: a file still busy after the timeout is one persistence line naming it, the cause kept; the wait is the timeout', () => {
    const started = Date.now();
    let calls = 0;
    let thrown: unknown;
    try {
      retryWhileBusy('/runs/fedtune.db', 300, () => {
        calls++;
        throw busy();
      });
    } catch (err) {
      thrown = err;
    }
    const waited = Date.now() - started;
    expect(thrown).toBeInstanceOf(FedtuneError);
    expect(thrown).toMatchObject({ code: 'persistence', message: 'the database /runs/fedtune.db is locked by another process (still after 0 s): stop the other coordinator using it, or give this one its own --out' });
    expect((thrown as FedtuneError).cause).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(2_000);
    // Pauses of 5, 10, 20, 40, 80 and then 100 ms: about 8 tries in 300 ms, not a spin of thousands.
    expect(calls).toBeGreaterThanOrEqual(5);
    expect(calls).toBeLessThanOrEqual(12);
    expect(SQLITE_BUSY_TIMEOUT_MS).toBe(5_000);
  });

  it('every store on a file another process holds exclusively answers with that line after the busy timeout, and opens once it is released', async () => {
    const dir = tempDir('fedtune-sqlite-busy-');
    const path = join(dir, 'fedtune.db');
    const release = await holdExclusively(path);
    try {
      for (const open of [() => openSqlite(path, { wal: true, busyTimeoutMs: 400 }), () => openSqlite(path, { busyTimeoutMs: 400 })]) {
        expect(open).toThrow(/^the database .*fedtune\.db is locked by another process/);
      }
      for (const open of [() => new RunDatabase(path), () => new SiteTokenStore(path), () => new AdminTokenStore(path)]) {
        expect(open).toThrow(expect.objectContaining({ code: 'persistence', message: expect.stringMatching(/is locked by another process \(still after 5 s\)/) }));
      }
    } finally {
      await release();
    }
    const db = new RunDatabase(path);
    expect(db.db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  }, 60_000);

  it('fedtune coordinator on an --out another process holds: one persistence line, status 1', async () => {
    const dir = tempDir('fedtune-sqlite-busy-cli-');
    const release = await holdExclusively(join(dir, 'fedtune.db'));
    try {
      const exit = await fedtune(['coordinator', '--port', '0', '--out', dir, '--rounds', '1']).done;
      expect(exit.code, exit.stderr).toBe(1);
      expect(exit.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fedtune: persistence: the database .*fedtune\.db is locked by another process \(still after 5 s\): stop the other coordinator using it, or give this one its own --out$/)]);
    } finally {
      await release();
    }
  }, 60_000);
});
