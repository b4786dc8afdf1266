import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { siteName, verifyAuditChain, type AuditEntry, type WeightArrays } from '@fedtune/shared';
import { SiteAuditLog } from '@fedtune/client-node';
import { startTestFederation, tempDir } from '../helpers/federation.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import type { AdminGuard } from '../../coordinator/src/access/admin-guard.ts';

const SITES = 20;
const ROUNDS = 2;
/** This site's updates are all NaN: the coordinator rejects them (non_finite), and the audit says so. */
const BAD = siteName(3);

describe('the audit trail of a 20-site run over socket.io', () => {
  it('verifies, names each rejection, matches every site\'s own log (CLI, real files), and a tampered copy fails', async () => {
    const runsDir = tempDir('fedtune-audit-run-');
    const logsDir = tempDir('fedtune-audit-sites-');
    const siteLogs = new Map<string, SiteAuditLog>();
    for (let k = 0; k < SITES; k++) siteLogs.set(siteName(k), new SiteAuditLog(join(logsDir, `${siteName(k)}.jsonl`), siteName(k)));
    const { coordinator, siteRuns } = await startTestFederation({
      sites: SITES,
      rounds: ROUNDS,
      transport: 'socket',
      runsDir,
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { federatedEvaluation: 'never' },
      hooks: { [BAD]: (w: WeightArrays) => w.map((a) => new Float32Array(a.length).fill(NaN)) },
      onSiteEvent: (siteId, e) => siteLogs.get(siteId)!.record(e),
    });
    try {
      const report = await coordinator.done;
      await Promise.all(siteRuns);
      expect(report.status).toBe('complete');
      const path = join(coordinator.runDir, 'audit.jsonl');
      const text = readFileSync(path, 'utf8');
      const chain = verifyAuditChain(text);
      expect(chain.ok).toBe(true);
      if (!chain.ok) return;
      const entries: AuditEntry[] = chain.good;
      const ofType = (t: string) => entries.filter((e) => e.type === t);
      expect(entries[0]).toMatchObject({ seq: 0, type: 'run-start', data: { runId: coordinator.runId } });
      expect(entries.at(-1)).toMatchObject({ type: 'complete', data: { status: 'complete', rounds: ROUNDS } });
      expect(new Set(ofType('join').map((e) => e.data.siteId))).toEqual(new Set(Array.from({ length: SITES }, (_, k) => siteName(k))));
      expect(ofType('round-start').map((e) => e.data.round)).toEqual([1, 2]);
      expect((ofType('round-start')[0].data.participants as string[]).length).toBe(SITES);
      // Every update with the hash of its bytes; the bad site's rejected with its code, the others accepted.
      const updates = ofType('update');
      expect(updates).toHaveLength(SITES * ROUNDS);
      for (const u of updates) expect(u.data.sha256).toMatch(/^[0-9a-f]{64}$/);
      const rejected = updates.filter((u) => u.data.accepted === false);
      expect(rejected.map((u) => [u.data.siteId, u.data.round, u.data.code])).toEqual([[BAD, 1, 'non_finite'], [BAD, 2, 'non_finite']]);
      expect(typeof rejected[0].data.reason).toBe('string');
      // One model entry per round, before the next round starts; the last is the final model's hash.
      const models = ofType('model');
      expect(models.map((m) => m.data.round)).toEqual([1, 2]);
      expect(models[0].seq).toBeLessThan(ofType('round-start')[1].seq);
      // The head is published in the report.
      const saved = JSON.parse(readFileSync(join(coordinator.runDir, 'report.json'), 'utf8')) as { audit?: { count: number; head: string } };
      expect(saved.audit).toEqual({ count: chain.count, head: chain.head });

      // Downloaded over HTTP: the same bytes.
      const download = await fetch(`${coordinator.url}/api/v1/runs/${coordinator.runId}/audit`);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      expect(await download.text()).toBe(text);

      // The CLI on the real files: every site's own log matches.
      const logPaths = [...siteLogs.values()].map((l) => l.path);
      const good = await fedtune(['audit', 'verify', path, ...logPaths.flatMap((p) => ['--site-log', p]), '--head', chain.head]).done;
      expect(good.stderr).toBe('');
      expect(good.stdout.trim()).toBe(`OK: ${chain.count} entries, head ${chain.head}, run ${coordinator.runId}; ${SITES} site logs match (${SITES * ROUNDS} updates)`);
      expect(good.code).toBe(0);

      // Each site's copy, read with its site token where the control plane needs the admin token: its own
      // entries whole, no other site's name, count or hash; it verifies with the same head and matches its own log.
      const admin: AdminGuard = { required: () => true, check: (h) => (h === 'Bearer ADMIN' ? { ok: true } : { ok: false, message: 'no' }) };
      const siteTokens = { verify: (name: string, token: string | undefined) => (token === `tok-${name}` ? { ok: true as const } : { ok: false as const, reason: 'invalid token' as const }) };
      const { app } = buildApp({ runsDir, maxMessageBytes: 1 << 20, admin, siteTokens, apiRateLimit: false });
      try {
        for (const [k, site] of [...siteLogs.keys()].entries()) {
          const res = await app.inject({ url: `/api/v1/runs/${coordinator.runId}/audit`, headers: { authorization: `Bearer tok-${site}`, 'x-fedtune-site': site } });
          expect(res.statusCode).toBe(200);
          const others = [...siteLogs.keys()].filter((s) => s !== site);
          for (const other of others) expect(res.body).not.toContain(`"${other}"`);
          for (const u of updates.filter((e) => e.data.siteId !== site)) expect(res.body).not.toContain(u.data.sha256 as string);
          if (k > 2) continue; // the CLI for three of them
          const copy = join(logsDir, `copy-${site}.jsonl`);
          writeFileSync(copy, res.body);
          const verdict = await fedtune(['audit', 'verify', copy, '--site-log', siteLogs.get(site)!.path, '--head', chain.head]).done;
          const redacted = chain.count - entries.filter((e) => ['run-start', 'model', 'complete', 'terms', 'privacy'].includes(e.type) || e.data.siteId === site).length;
          expect(verdict.stdout.trim()).toBe(`OK: ${chain.count} entries (${redacted} redacted: other sites' data withheld), head ${chain.head}, run ${coordinator.runId}; 1 site log match (${ROUNDS} updates)`);
        }
      } finally {
        await app.close();
      }

      // A tampered copy (one accepted update's hash changed) fails, naming the entry.
      const tampered = join(logsDir, 'tampered.jsonl');
      const victim = updates.find((u) => u.data.accepted === true)!;
      writeFileSync(tampered, text.split('\n').map((line, i) => (i === victim.seq ? line.replace(victim.data.sha256 as string, 'f'.repeat(64)) : line)).join('\n'));
      const bad = await fedtune(['audit', 'verify', tampered]).done;
      expect(bad.stdout.trim()).toBe(`FAILED: ${tampered}: audit log broken at line ${victim.seq + 1} (seq ${victim.seq}): hash does not match the entry (the entry was edited)`);
      expect(bad.code).toBe(1);

      // A site's log with an update the coordinator does not record (e.g. the coordinator dropped it) fails.
      const siteLog = logPaths[0];
      const forged = join(logsDir, 'forged.jsonl');
      copyFileSync(siteLog, forged);
      const first = JSON.parse(readFileSync(siteLog, 'utf8').split('\n')[0]) as { round: number; sha256: string; siteId: string };
      writeFileSync(forged, readFileSync(siteLog, 'utf8').replace(first.sha256, '0'.repeat(64)));
      const mismatch = await fedtune(['audit', 'verify', path, '--site-log', forged, '--json']).done;
      const json = JSON.parse(mismatch.stdout) as { ok: boolean; message: string; siteLogs: Array<{ ok: boolean }> };
      expect(json.ok).toBe(false);
      expect(json.message).toBe(`FAILED: ${forged}: site log does not match the audit log: ${first.siteId} sent fitResult of round ${first.round} (sha256 ${'0'.repeat(64)}) and the audit log does not record it`);
      expect(mismatch.code).toBe(1);
    } finally {
      await coordinator.close();
    }
  }, 300_000);
});
