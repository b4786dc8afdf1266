import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareSiteLog, parseSiteLog, siteName, verifyAuditChain } from '@fedtune/shared';
import { SiteAuditLog } from '@fedtune/client-node';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

const SITES = 5;

describe('the audit trail under secure aggregation (socket.io)', () => {
  it('records each site\'s masked-input hash with the participants and survivors, and every site\'s own log matches', async () => {
    const logsDir = tempDir('fedtune-audit-secagg-');
    const logs = new Map(Array.from({ length: SITES }, (_, k) => [siteName(k), new SiteAuditLog(join(logsDir, `${siteName(k)}.jsonl`), siteName(k))]));
    const { coordinator, siteRuns } = await startTestFederation({
      sites: SITES,
      rounds: 1,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { secureAggregation: { clip: 1 }, federatedEvaluation: 'never' },
      onSiteEvent: (siteId, e) => logs.get(siteId)!.record(e),
    });
    try {
      const report = await coordinator.done;
      await Promise.all(siteRuns);
      expect(report.status).toBe('complete');
      const chain = verifyAuditChain(readFileSync(join(coordinator.runDir, 'audit.jsonl'), 'utf8'));
      expect(chain.ok).toBe(true);
      if (!chain.ok) return;
      const secure = chain.good.filter((e) => e.type === 'secure-aggregation');
      expect(secure).toHaveLength(1);
      const ids = Array.from({ length: SITES }, (_, k) => siteName(k)).sort();
      expect(secure[0].data).toMatchObject({ round: 1, attempt: 1, participants: ids, survivors: ids });
      expect(Object.keys(secure[0].data.masked as object)).toEqual(ids);
      expect(chain.good.filter((e) => e.type === 'update')).toHaveLength(0);
      for (const log of logs.values()) {
        const site = parseSiteLog(readFileSync(log.path, 'utf8'));
        expect(site.ok).toBe(true);
        if (!site.ok) continue;
        expect(site.entries).toHaveLength(1);
        expect(site.entries[0]).toMatchObject({ message: 'secaggMasked', round: 1, attempt: 1 });
        expect(compareSiteLog(chain.good, site.entries)).toMatchObject({ ok: true, updates: 1 });
      }
    } finally {
      await coordinator.close();
    }
  }, 300_000);
});
