import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, SiteTokenStore, type CoordinatorApp } from '@fedtune/coordinator';
import { deriveSeed, SiteClient, socketIoConnector, splitDataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTinyCoordinator, tempDir, tinyData } from './helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/** A throwaway private CA and a server certificate for localhost / 127.0.0.1 signed by it (P-256, 1 day). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (cmd: string) => execSync(cmd, { cwd: dir, stdio: 'pipe' });
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  run(`openssl req -x509 ${ec} -keyout ca.key -out ca.pem -days 1 -subj "/CN=fedtune test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"`);
  run(`openssl req ${ec} -keyout server.key -out server.csr -subj "/CN=localhost"`);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile ext.cnf');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), cert: read('server.pem'), key: read('server.key') };
}

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
