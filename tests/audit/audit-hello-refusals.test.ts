import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SiteTokenStore } from '@fedtune/coordinator';
import { verifyAuditChain } from '@fedtune/shared';
import { startTinyCoordinator, tempDir, tryJoin } from '../access/helpers.ts';

describe('refused hellos in the audit log (socket.io, site tokens)', () => {
  it('records each refused join with its code and reason, and none of those refused for the rate limit', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const token = store.add('site-a');
    // Two failed joins per minute per address, then rate_limited.
    const coordinator = await startTinyCoordinator({ runId: 'audit-hellos', minSites: 2, access: { store, hellosPerMinute: 2 } });
    try {
      const codes: string[] = [];
      for (const [siteId, t] of [['site-a', undefined], ['site-z', token], ['site-a', 'wrong'], ['site-a', 'wrong']] as Array<[string, string | undefined]>) {
        const { site, answer } = await tryJoin(coordinator.url!, siteId, t);
        codes.push((answer.payload as { code: string }).code);
        await site.closed;
      }
      expect(codes).toEqual(['unauthorized', 'unauthorized', 'rate_limited', 'rate_limited']);
      await coordinator.close();
      const chain = verifyAuditChain(readFileSync(join(coordinator.runDir, 'audit.jsonl'), 'utf8'));
      expect(chain.ok).toBe(true);
      if (!chain.ok) return;
      const refusals = chain.good.filter((e) => e.type === 'refusal');
      // Each with its own random nonce (a site's copy withholds them; the nonce keeps their hashes from being guessed).
      expect(refusals.map((e) => e.data.nonce)).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/), expect.stringMatching(/^[0-9a-f]{32}$/)]);
      expect(refusals[0].data.nonce).not.toBe(refusals[1].data.nonce);
      expect(refusals.map(({ data: { nonce: _, ...data } }) => data)).toEqual([
        { kind: 'hello', siteId: 'site-a', code: 'unauthorized', reason: 'site site-a refused: token required (this coordinator requires site tokens: pass --token)' },
        // As told to the peer: the audit log, which the run's sites may read, does not say which names are registered.
        { kind: 'hello', siteId: 'site-z', code: 'unauthorized', reason: 'site site-z refused: unknown site or invalid token (a site is registered with `fedtune sites add NAME` on the coordinator, which prints its token once)' },
      ]);
    } finally {
      await coordinator.close();
      store.close();
    }
  }, 120_000);
});
