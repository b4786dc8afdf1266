import { get } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, SiteTokenStore, type CoordinatorApp } from '@fedtune/coordinator';
import { deriveSeed, SiteClient, socketIoConnector, splitDataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTinyCoordinator, tempDir, tinyData } from './helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';
import { makeCertificates } from '../helpers/private-ca.ts';

function httpsGet(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('TLS: HTTPS and WSS with a private CA', () => {
  let pem: { ca: string; cert: string; key: string };
  let c: CoordinatorApp;
  let port: number;

  beforeAll(async () => {
    pem = makeCertificates(tempDir('fedtune-tls-'));
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, https: { cert: pem.cert, key: pem.key } });
    c.transport.onConnection(() => undefined);
    const address = await c.app.listen({ port: 0, host: '127.0.0.1' });
    expect(address).toMatch(/^https:\/\//);
    port = Number(new URL(address).port);
  });

  afterAll(async () => {
    await c.app.close();
  });

  it('a client that trusts the CA connects over wss; the API answers over https', async () => {
    const link = await socketIoConnector({ url: `https://localhost:${port}`, ca: pem.ca, connectTimeoutMs: 5_000 }).connect();
    expect(link.closed).toBe(false);
    link.close();
    const health = await httpsGet(`https://127.0.0.1:${port}/api/health`, pem.ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).status).toBe('ok');
  });

  it('a client without the CA is refused (the certificate does not verify)', async () => {
    await expect(socketIoConnector({ url: `https://localhost:${port}`, connectTimeoutMs: 5_000 }).connect()).rejects.toMatchObject({
      code: 'transport',
      message: expect.stringMatching(/unable to verify|self.signed|certificate/i),
    });
    await expect(httpsGet(`https://127.0.0.1:${port}/api/health`)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });

  it('plain http:// to the TLS port fails', async () => {
    await expect(socketIoConnector({ url: `http://localhost:${port}`, connectTimeoutMs: 5_000 }).connect()).rejects.toMatchObject({ code: 'transport' });
  });

  it('startCoordinator with tls and tokens: a site with the CA and its token completes a run over wss', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const token = store.add('site-1');
    const coordinator = await startTinyCoordinator({ runId: 'tls-run', tls: { cert: pem.cert, key: pem.key }, access: { store } });
    try {
      expect(coordinator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const backend = await selectNodeBackend();
      const client = new SiteClient({
        policy: testSitePolicy(),
        siteId: 'site-1',
        token,
        connector: socketIoConnector({ url: coordinator.url!, ca: pem.ca }),
        data: splitDataset(tinyData(60, 3), deriveSeed(1, 'split', 'site-1')),
        backend: backend.backend,
        runtime: 'node',
      });
      const outcome = await client.run();
      expect(outcome.completed).toBe(true);
      expect((await coordinator.done).status).toBe('complete');
    } finally {
      await coordinator.close();
      store.close();
    }
  });
});
