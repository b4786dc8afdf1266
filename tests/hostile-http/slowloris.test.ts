import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { deriveSeed, SiteClient, socketIoConnector, splitDataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTinyCoordinator, tinyData } from '../access/helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

interface Loris {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

/** A connection that sends the start of a request and never finishes its headers. */
async function slowloris(url: string): Promise<Loris> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`GET /api/health HTTP/1.1\r\nHost: ${hostname}\r\nX-Slow: 1`);
  return { socket, received: () => data, closed };
}

/** Resolves true if `p` settles within `ms`, false otherwise (the test then fails on the boolean, not a hang). */
const within = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);

describe('slowloris (finding 7)', () => {
  it('five requests with unfinished headers do not keep the coordinator open after its run completes', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'loris-run', minSites: 1, rounds: 1, apiRateLimit: false });
    const lorises = await Promise.all(Array.from({ length: 5 }, () => slowloris(coordinator.url!)));
    try {
      const backend = await selectNodeBackend();
      const site = new SiteClient({
        policy: testSitePolicy(),
        siteId: 'site-a',
        connector: socketIoConnector({ url: coordinator.url! }),
        data: splitDataset(tinyData(60, 2), deriveSeed(1, 'split', 'site-a')),
        backend: backend.backend,
        runtime: 'node',
      });
      expect((await site.run()).completed).toBe(true);
      expect((await coordinator.done).status).toBe('complete');
      // Still half-open when the run ends: closing must not wait for them.
      expect(lorises.every((l) => !l.socket.destroyed)).toBe(true);
      expect(await within(coordinator.close(), 10_000), 'close() resolved').toBe(true);
      expect(await within(Promise.all(lorises.map((l) => l.closed)), 5_000), 'the server closed every slow connection').toBe(true);
    } finally {
      for (const l of lorises) l.socket.destroy();
    }
  });

  it('a request whose headers do not arrive within the headers timeout is answered 408 request_timeout and closed', async () => {
    const coordinator = await startTinyCoordinator({
      runId: 'loris-timeout',
      apiRateLimit: false,
      httpTimeouts: { headersMs: 300, requestMs: 1_000, checkIntervalMs: 100 },
    });
    try {
      const loris = await slowloris(coordinator.url!);
      expect(await within(loris.closed, 8_000), 'the server closed the slow connection').toBe(true);
      expect(loris.received()).toMatch(/^HTTP\/1\.1 408/);
      const body = JSON.parse(loris.received().split('\r\n\r\n')[1]);
      expect(body).toEqual({ error: { code: 'request_timeout', message: expect.any(String) } });
      // The coordinator is still serving.
      expect((await fetch(`${coordinator.url}/api/health`)).status).toBe(200);
    } finally {
      await coordinator.close();
    }
  });
});
