import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir } from './helpers.ts';
import { makeCertificates } from '../helpers/private-ca.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';

/**
 * `fedtune client --show-terms` against an https:// coordinator whose certificate a private CA signed. Before
 * 2026-12-07 the terms were fetched with plain `fetch`, which ignored --ca: it failed the certificate check
 * ("fetch failed") even with the CA given, though the site's own connection used it. Runs the compiled CLI.
 */
describe('fedtune client --show-terms over TLS with a private CA', () => {
  let coordinator: RunningCoordinator;
  let certs: ReturnType<typeof makeCertificates>;

  beforeAll(async () => {
    certs = makeCertificates(tempDir('fedtune-terms-tls-'));
    coordinator = await startTinyCoordinator({ runId: 'terms-over-tls', minSites: 2, tls: { cert: certs.cert, key: certs.key } });
    expect(coordinator.url).toMatch(/^https:\/\//);
  }, 60_000);

  afterAll(async () => {
    await coordinator?.close();
  });

  const server = () => coordinator.url!.replace('127.0.0.1', 'localhost');

  it.each<[string, () => string[], (r: { code: number | null; stdout: string; stderr: string }) => void]>([
    ['with --ca: prints the terms', () => ['--ca', certs.caFile], (r) => {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('run terms-over-tls');
      expect(r.stdout).toMatch(/terms hash {4}[0-9a-f]{64}/);
    }],
    ['with --ca --json: the signed terms as JSON', () => ['--ca', certs.caFile, '--json'], (r) => {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).terms.runId).toBe('terms-over-tls');
    }],
    ['without --ca: one clear line naming the certificate and --ca, no stack trace', () => [], (r) => {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/cannot reach the coordinator at https:\/\/localhost:\d+: .*certificate.*give its certificate with --ca/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }],
    ['with another CA: one line asking whether --ca signed the certificate', () => ['--ca', makeCertificates(tempDir('fedtune-other-ca-')).caFile], (r) => {
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/certificate.*is --ca the CA that signed the coordinator's certificate\?/);
    }],
  ])('%s', async (_name, flags, check) => {
    check(await fedtune(['client', '--show-terms', '--server', server(), ...flags()]).done);
  }, 60_000);
});
