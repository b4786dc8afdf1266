import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';


describe('fedtune coordinator with slowloris connections open (finding 7, the real CLI)', () => {
  it('binds 127.0.0.1 by default, says so, and exits 0 promptly when the run completes despite five unfinished requests', async () => {
    const dir = tempDir();
    const part = await fedtune(['partition', '--task', 'digits', '--sites', '2', '--partition', 'iid', '--seed', '3', '--out', dir]).done;
    expect(part.code, part.stderr).toBe(0);

    // No --host: the default bind.
    const coordinator = fedtuneCoordinator(['--port', '0', '--rounds', '1', '--min-sites', '1', '--seed', '5', '--robustness', 'never', '--federated-eval', 'never', '--out', join(dir, 'runs'), '--run-id', 'loris']);
    const url = await coordinator.url;
    expect(url, 'coordinator printed its URL').toBeDefined();
    const { hostname, port } = new URL(url!);
    expect(hostname).toBe('127.0.0.1');

    const lorises: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const s = connect({ host: hostname, port: Number(port) });
      s.on('error', () => undefined);
      s.resume(); // read (and drop) whatever comes, so the server's FIN is seen
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(`GET /api/health HTTP/1.1\r\nHost: ${hostname}\r\nX-Slow: ${i}`);
      lorises.push(s);
    }
    try {
      const site = await fedtune(['client', '--server', url!, '--site', 'site-1', '--data', join(dir, 'site-1.csv')]).done;
      expect(site.code, site.stderr).toBe(0);
      const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
      const c = await Promise.race([coordinator.done, deadline]);
      if (c === 'timeout') {
        coordinator.kill();
        throw new Error('the coordinator was still running 30 s after its only site finished');
      }
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toMatch(new RegExp(`bound to 127\\.0\\.0\\.1:${port} \\(loopback`));
      expect(c.stdout).toMatch(/run loris complete/);
      // The process is gone, and so is every slow connection.
      const allClosed = Promise.all(lorises.map((s) => (s.closed ? Promise.resolve() : new Promise<void>((r) => s.once('close', () => r())))));
      expect(await Promise.race([allClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000).unref())])).toBe(true);
    } finally {
      for (const s of lorises) s.destroy();
      coordinator.kill();
    }
  });
});
