import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';

describe('fedtune client --workers', () => {
  it('--workers 2 --sync-every 2 trains a round on two threads, then the client process exits 0 (no thread keeps it alive)', async () => {
    const dir = tempDir();
    const coordinator = fedtuneCoordinator(['--port', '0', '--host', '127.0.0.1', '--rounds', '1', '--min-sites', '1', '--max-examples', '200', '--seed', '3', '--out', join(dir, 'runs'), '--run-id', 'workers-run']);
    const url = await coordinator.url;
    expect(url, 'coordinator printed its URL').toBeDefined();
    const site = fedtune(['client', '--server', url!, '--site', 'site-1', '--data', 'digits:1/4', '--backend', 'wasm', '--workers', '2', '--sync-every', '2']);
    const [c, s] = await Promise.all([coordinator.done, site.done]);
    expect(c.code, c.stderr).toBe(0);
    expect(s.code, s.stderr).toBe(0);
    expect(s.signal).toBeNull();
    expect(s.stdout).toContain('training on up to 2 worker threads, weights averaged every 2 batches per worker');
    expect(s.stdout).toMatch(/round 1: trained on 200 examples/);
    // The default run config (adam, plain loop) runs on the threads, not the one-thread fallback.
    expect(s.stdout).not.toMatch(/on one thread/);
    expect(s.stdout).toMatch(/run workers-run complete after 1 rounds \(1 trained here\)/);
    expect(s.stderr).not.toMatch(/at .*\.ts:\d+/);
  }, 300_000);
});
