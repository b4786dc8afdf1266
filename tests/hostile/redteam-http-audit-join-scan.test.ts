import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import type { AdminGuard } from '../../coordinator/src/access/admin-guard.ts';
import { tempDir } from '../helpers/federation.ts';

const entry = (seq: number, type: string, data: Record<string, unknown>) => JSON.stringify({ seq, at: 't', type, data, prev: '0'.repeat(64), hash: '1'.repeat(64) });

/** A run of 2,000 sites and 20 rounds: 2,000 joins, then an update entry per site and round (~9 MB). */
function bigAudit(): string {
  const lines: string[] = [];
  for (let i = 0; i < 2_000; i++) lines.push(entry(lines.length, 'join', { siteId: `site-${i}`, backend: 'cpu', runtime: 'node', numExamples: 100 }));
  for (let round = 1; round <= 20; round++) {
    for (let i = 0; i < 2_000; i++) lines.push(entry(lines.length, 'update', { round, siteId: `site-${i}`, sha256: 'a'.repeat(64), bytes: 8732, numExamples: 100, accepted: true }));
  }
  return lines.join('\n') + '\n';
}

/**
 * A site reads its run's audit log with its own site token (the lowest role there is). To decide whether the
 * site joined the run, the route read the whole log and parsed its join entries on every request: a site of
 * one run asking for another run's log (refused) or for its own (allowed) cost the coordinator the whole file,
 * synchronously, each time (and so did every honest site downloading the log at the end of a run). Now the
 * joined sites of each log are kept and only what was appended since is read.
 */
describe('the audit log route, asked again and again with a site token', () => {
  const runsDir = tempDir('fedtune-audit-scan-');
  mkdirSync(join(runsDir, 'big'));
  const path = join(runsDir, 'big', 'audit.jsonl');
  writeFileSync(path, bigAudit());
  const admin: AdminGuard = { required: () => true, check: (h) => (h === 'Bearer ADMIN' ? { ok: true } : { ok: false, message: 'no' }) };
  const siteTokens = { verify: (name: string, token: string | undefined) => (token === `tok-${name}` ? { ok: true as const } : { ok: false as const, reason: 'invalid token' as const }) };
  const { app } = buildApp({ runsDir, maxMessageBytes: 1 << 20, admin, siteTokens, apiRateLimit: false });
  afterAll(() => app.close());
  afterEach(() => vi.restoreAllMocks());

  const ask = (site: string) => app.inject({ method: 'GET', url: '/api/v1/runs/big/audit', headers: { authorization: `Bearer tok-${site}`, 'x-fedtune-site': site } });

  it('reads each entry of the log once, however often sites ask', async () => {
    const parse = vi.spyOn(JSON, 'parse');
    const joinParses = () => parse.mock.calls.filter(([text]) => typeof text === 'string' && text.includes('"join"')).length;
    // A site of another run: refused, 20 times.
    for (let i = 0; i < 20; i++) {
      const res = await ask('outsider');
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
    // Deciding costs one read of the log, however often refused sites ask.
    expect(joinParses()).toBe(2_000);
    // The last site to join, and the first: allowed, their copy of the whole log each time (streamed, every
    // entry of the others redacted), and the decision read nothing again.
    for (let i = 0; i < 3; i++) {
      for (const site of ['site-1999', 'site-0']) {
        const res = await ask(site);
        expect(res.statusCode).toBe(200);
        const lines = res.body.split('\n');
        expect(lines.length).toBe(42_001);
        expect(lines.filter((l) => l.includes(`"${site}"`)).length).toBe(21);
      }
    }
    // Each copy parsed the 2,000 join lines once more (to redact them), the decision none.
    expect(joinParses()).toBe(2_000 + 6 * 2_000);
  });

  it('sees sites that join later (an appended entry, a partly written line), and a log replaced by another', async () => {
    appendFileSync(path, entry(42_000, 'join', { siteId: 'late' }).slice(0, 40));
    expect((await ask('late')).statusCode).toBe(401);
    appendFileSync(path, entry(42_000, 'join', { siteId: 'late' }).slice(40) + '\n');
    expect((await ask('late')).statusCode).toBe(200);
    // A new log in its place (a run directory reused): what the old one said no longer counts.
    writeFileSync(`${path}.new`, `${entry(0, 'join', { siteId: 'fresh' })}\n`);
    renameSync(`${path}.new`, path);
    expect((await ask('fresh')).statusCode).toBe(200);
    expect((await ask('site-0')).statusCode).toBe(401);
  });
});
