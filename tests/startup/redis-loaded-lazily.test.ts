import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledEntry } from '../../cli/bin/compiled-entry.mjs';
import { BLOB_AS_BUFFER, RESP_BLOB_STRING } from '../../coordinator/src/cluster/redis-blob-as-buffer.ts';

// The coordinator evaluates the `redis` package only under --cluster (connectClusterRedis imports it):
// docs/performance.md. A real `fedtune coordinator` (compiled modules, FEDTUNE_BUNDLE=0, so that the module
// recorder sees each file) runs until its run is ready, then SIGTERM.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');
const RECORD = join(ROOT, 'tests', 'helpers', 'record-modules.mjs');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fedtune-redis-lazy-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('redis loaded only by a cluster node', () => {
  it("RESP_BLOB_STRING is redis' RESP_TYPES.BLOB_STRING", () => {
    const redis = createRequire(join(ROOT, 'coordinator', 'package.json'))('redis') as { RESP_TYPES: { BLOB_STRING: number } };
    expect(RESP_BLOB_STRING).toBe(redis.RESP_TYPES.BLOB_STRING);
    expect(BLOB_AS_BUFFER).toEqual({ [redis.RESP_TYPES.BLOB_STRING]: Buffer });
  });

  it('fedtune coordinator without --cluster loads the cluster modules but never the redis package', async () => {
    const entry = compiledEntry(ROOT);
    if (!entry.url) throw new Error(`the compiled build is not current (${entry.reason}): run npm run build:js`);
    const log = join(work, 'modules.log');
    writeFileSync(log, '');
    const child = spawn(process.execPath, ['--import', RECORD, BIN, 'coordinator', '--port', '0', '--rounds', '1', '--min-sites', '1', '--out', join(work, 'runs')], {
      cwd: work,
      env: { ...process.env, FEDTUNE_MODULE_LOG: log, FEDTUNE_BUNDLE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
        if (/ ready: waiting for /.test(stdout)) resolve();
      });
      void exited.then((code) => reject(new Error(`coordinator exited ${code}: ${stdout} ${stderr}`)));
    });
    child.kill('SIGTERM');
    await exited;
    const modules = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))]
      .map((entry) => (entry.startsWith('file://') ? fileURLToPath(entry) : entry))
      .filter((path) => path.startsWith('/'))
      .map((path) => relative(ROOT, path).replace(/^.*node_modules\//, 'node_modules/'));
    // The cluster code is there (the coordinator's index re-exports it) ...
    expect(modules).toContain('coordinator/dist/cluster/redis-connection.js');
    expect(modules).toContain('coordinator/dist/cluster/cluster-model-versions.js');
    // ... but not the package it would talk to Redis with.
    expect(modules.filter((m) => m.startsWith('node_modules/redis/') || m.startsWith('node_modules/@redis/'))).toEqual([]);
  });
});
