import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { isFedtuneError } from '@fedtune/shared';
import { startTinyCoordinator } from './access/helpers.ts';
import { tempDir } from './helpers/federation.ts';

const BIN = join(import.meta.dirname, '..', 'node_modules', '.bin', 'fedtune');

function fedtune(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

// The rule POST /api/runs had (RunStore.newRunDir) now holds for every way a run starts: a run id that names
// a file of the runs directory (the database, its -wal/-shm/-journal files, hidden names) is refused.
it('fedtune coordinator --run-id fedtune.db: one clear config line, exit 1, and the database is left alone', async () => {
  const out = tempDir();
  const r = await fedtune(['coordinator', '--run-id', 'fedtune.db', '--out', out, '--port', '0', '--host', '127.0.0.1', '--min-sites', '1']);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(/^fedtune: config: run id "fedtune\.db" is reserved \(it names a file of the runs directory\): choose another$/);
  expect(r.stderr).not.toMatch(/^\s+at .+:\d+/m);
  // Refused before the coordinator listens or opens its database: nothing named fedtune.db was made a run directory.
  const db = join(out, 'fedtune.db');
  expect(!existsSync(db) || statSync(db).isFile()).toBe(true);
  expect(r.stdout).not.toMatch(/listening/);
}, 60_000);

it.each(['fedtune.db', 'fedtune.db-wal', 'fedtune.db-shm', 'FEDTUNE.DB-journal', '.hidden', '.'])('startCoordinator refuses run id %s with a config error', async (runId) => {
  const runsDir = tempDir();
  writeFileSync(join(runsDir, 'keep.txt'), 'x');
  const error = await startTinyCoordinator({ runId, runsDir, config: { runId } }).then(
    async (c) => (await c.close(), undefined),
    (e: unknown) => e,
  );
  expect(isFedtuneError(error, 'config'), String(error)).toBe(true);
  expect((error as Error).message).toMatch(/reserved|invalid run id/);
  expect(existsSync(join(runsDir, runId, 'report.json'))).toBe(false);
  expect(readFileSync(join(runsDir, 'keep.txt'), 'utf8')).toBe('x');
});
