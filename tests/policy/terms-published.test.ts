import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeRunTerms, fetchRunTerms } from '../../cli/src/commands/show-terms.ts';
import { CoordinatorIdentity, IDENTITY_FILE, publishIdentityFile, SiteTokenStore } from '@fedtune/coordinator';
import { checkRunTerms, runTermsHash, SignedRunTerms, SitePolicy } from '@fedtune/shared';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';

describe('coordinator identity', () => {
  it('is created once (mode 0600), loaded on restart, and a broken file is refused, never overwritten', () => {
    const dir = tempDir('fedtune-identity-');
    const first = CoordinatorIdentity.loadOrCreate(dir);
    const path = join(dir, IDENTITY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first.publicKey).toMatch(/^[0-9a-f]{64}$/);
    const again = CoordinatorIdentity.loadOrCreate(dir);
    expect(again.publicKey).toBe(first.publicKey);
    expect(again.signHash('ab'.repeat(32))).toBe(first.signHash('ab'.repeat(32)));
    const file = JSON.parse(readFileSync(path, 'utf8'));
    const other = CoordinatorIdentity.generate();
    writeFileSync(path, JSON.stringify({ ...file, publicKey: other.publicKey }));
    expect(() => CoordinatorIdentity.loadOrCreate(dir)).toThrow(/its public key does not belong to its secret key/);
    writeFileSync(path, '{"hello":1}');
    expect(() => CoordinatorIdentity.loadOrCreate(dir)).toThrow(/is not a coordinator identity/);
    expect(readFileSync(path, 'utf8')).toBe('{"hello":1}');
  });

  it('is published only where no file is: an existing identity is never replaced, and nothing temporary is left', () => {
    const dir = tempDir('fedtune-identity-');
    const path = join(dir, IDENTITY_FILE);
    expect(publishIdentityFile(path, 'first\n')).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(publishIdentityFile(path, 'second\n')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('first\n');
    expect(readdirSync(dir)).toEqual([IDENTITY_FILE]);
  });

  it('is the same for coordinators that start together on one runs directory (the one on disk signs every run)', async () => {
    // Four processes loaded, then released together, three times (a replacing write loses this race ~8 times in 10).
    const fixture = join(import.meta.dirname, 'fixtures', 'identity-race.ts');
    for (let trial = 0; trial < 3; trial++) {
      const dir = tempDir('fedtune-identity-race-');
      const racers = Array.from({ length: 4 }, () => {
        const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        const ready = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.startsWith('ready\n')) resolve(); }));
        const done = new Promise<string>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(out.slice('ready\n'.length)) : reject(new Error(`racer exited ${code}: ${err}`)))));
        return { child, ready, done };
      });
      await Promise.all(racers.map((r) => r.ready));
      for (const r of racers) r.child.stdin!.end('g');
      const keys = await Promise.all(racers.map((r) => r.done));
      const onDisk = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8')).publicKey;
      expect(keys).toEqual([onDisk, onDisk, onDisk, onDisk]);
      expect(readdirSync(dir)).toEqual([IDENTITY_FILE]);
    }
  }, 120_000);
});

describe('GET /api/v1/terms', () => {
  it('publishes the run\'s signed terms, built from its config and model, signed by the runs directory\'s identity', async () => {
    const runsDir = tempDir('fedtune-terms-');
    const coordinator = await startTinyCoordinator({ runId: 'terms-open', rounds: 3, minSites: 2, runsDir, config: { runId: 'terms-open', train: { epochs: 2, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all', maxExamples: 50 } } });
    try {
      const res = await coordinator.app!.app.inject({ method: 'GET', url: '/api/v1/terms' });
      expect(res.statusCode).toBe(200);
      const signed = SignedRunTerms.parse(res.json());
      expect(signed.terms).toMatchObject({ runId: 'terms-open', rounds: 3, minSites: 2, fraction: 1, federatedEvaluation: 'never', coordinator: coordinator.coordinatorKey });
      expect(signed.terms.train).toMatchObject({ epochs: 2, maxExamples: 50 });
      expect(signed.terms.model).toMatchObject({ architecture: 'tiny', parameters: 67 });
      expect(signed.terms.dp).toBeUndefined();
      expect(signed.terms.secureAggregation).toBeUndefined();
      expect(signed.hash).toBe(runTermsHash(signed.terms));
      expect(checkRunTerms(signed, SitePolicy.parse({ coordinators: [coordinator.coordinatorKey] })).ok).toBe(true);
      expect(CoordinatorIdentity.loadOrCreate(runsDir).publicKey).toBe(coordinator.coordinatorKey);
      expect(coordinator.engine.report.terms).toEqual({ hash: signed.hash, coordinator: coordinator.coordinatorKey });
    } finally {
      await coordinator.close();
    }
  });

  it.each([
    ['central DP', { dp: { noiseMultiplier: 1.2, clip: 0.5 } }, { dp: { noiseMultiplier: 1.2, clip: 0.5, delta: 1e-5, noise: 'central' } }],
    ['secure aggregation with DP: distributed noise by default', { secureAggregation: { clip: 0.5 }, dp: { noiseMultiplier: 1, clip: 0.5 } }, { secureAggregation: { clip: 0.5 }, dp: { noise: 'distributed' } }],
    ['secure aggregation with DP, noise set central', { secureAggregation: { clip: 0.5, neighbours: 4 }, dp: { noiseMultiplier: 1, clip: 0.5, noise: 'central' } }, { secureAggregation: { clip: 0.5, neighbours: 4 }, dp: { noise: 'central' } }],
    [
      'federated calibration and a per-site report (its settings, seeds aside)',
      { calibration: { source: 'federated' }, siteRobustness: { when: 'final' } },
      { federatedCalibration: true, siteReport: { robustness: { examples: 200, adversarialExamples: 100, noiseSigmas: [0.1, 0.3], corruptions: true, pgdEps: [0.05, 0.1], pgdSteps: 20 } } },
    ],
    [
      'a per-site report with personalisation and its local-only baseline',
      { rounds: 3, personalization: { mode: 'ditto', epochs: 4, localOnly: true } },
      { siteReport: { personalization: { mode: 'ditto', epochs: 4, lambda: 0.1, validate: true }, localOnlyEpochs: 3 } },
    ],
  ] as const)('terms follow the config: %s', async (_n, config, expected) => {
    const coordinator = await startTinyCoordinator({ runId: 'terms-cfg', minSites: 2, config: config as never });
    try {
      const signed = SignedRunTerms.parse((await coordinator.app!.app.inject({ method: 'GET', url: '/api/v1/terms' })).json());
      expect(signed.terms).toMatchObject(expected);
    } finally {
      await coordinator.close();
    }
  });

  it('--show-terms says what the per-site report will ask', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'terms-report', minSites: 2, config: { rounds: 3, personalization: { mode: 'ditto', epochs: 4, localOnly: true }, siteRobustness: { when: 'final' } } as never });
    try {
      const signed = SignedRunTerms.parse((await coordinator.app!.app.inject({ method: 'GET', url: '/api/v1/terms' })).json());
      expect(describeRunTerms(signed).find((l) => l.startsWith('  site report'))).toBe(
        '  site report   personalisation ditto, 4 epoch(s), λ 0.1; local-only baseline 3 epoch(s); robustness on 200 test examples (100 attacked by PGD-20 at ε 0.05, 0.1; noise σ 0.1, 0.3; corruptions)',
      );
    } finally {
      await coordinator.close();
    }
    const plain = await startTinyCoordinator({ runId: 'terms-no-report', minSites: 2 });
    try {
      const signed = SignedRunTerms.parse((await plain.app!.app.inject({ method: 'GET', url: '/api/v1/terms' })).json());
      expect(describeRunTerms(signed).some((l) => l.includes('site report'))).toBe(false);
    } finally {
      await plain.close();
    }
  });

  it('--show-terms reads at most 1 MB of a server\'s answer: an endless chunked body is refused, not buffered', async () => {
    let written = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (written < 64 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
        if (written < 64 * 1024 * 1024) res.once('drain', pump);
        else res.end();
      };
      res.write('{"terms":');
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await expect(fetchRunTerms(url)).rejects.toMatchObject({ code: 'malformed_payload', message: expect.stringMatching(/^the coordinator's terms is more than the 1048576 bytes expected: refused after reading \d+$/) });
      expect(written).toBeLessThan(16 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('with site tokens on, needs a valid site token (as a hello does)', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const token = store.add('site-a');
    const coordinator = await startTinyCoordinator({ runId: 'terms-tokens', access: { store } });
    try {
      const get = (headers: Record<string, string>) => coordinator.app!.app.inject({ method: 'GET', url: '/api/v1/terms', headers });
      expect((await get({})).statusCode).toBe(401);
      expect((await get({ 'x-fedtune-site': 'site-a', authorization: 'Bearer wrong' })).statusCode).toBe(401);
      expect((await get({ 'x-fedtune-site': 'site-b', authorization: `Bearer ${token}` })).statusCode).toBe(401);
      const ok = await get({ 'x-fedtune-site': 'site-a', authorization: `Bearer ${token}` });
      expect(ok.statusCode).toBe(200);
      expect(SignedRunTerms.parse(ok.json()).terms.runId).toBe('terms-tokens');
      // The same bearer parser as the admin guard: the scheme is case-insensitive, surrounding blanks are ignored,
      // and anything else in front of the token (another scheme, a second space) is refused.
      expect((await get({ 'x-fedtune-site': 'site-a', authorization: `bearer ${token}` })).statusCode).toBe(200);
      expect((await get({ 'x-fedtune-site': 'site-a', authorization: ` Bearer ${token} ` })).statusCode).toBe(200);
      expect((await get({ 'x-fedtune-site': 'site-a', authorization: `Basic ${token}` })).statusCode).toBe(401);
      expect((await get({ 'x-fedtune-site': 'site-a', authorization: `Bearer  ${token}` })).statusCode).toBe(401);
    } finally {
      await coordinator.close();
    }
  });
});
