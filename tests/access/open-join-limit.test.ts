import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SiteTokenStore, siteAuthorizer } from '@fedtune/coordinator';
import type { Hello, SiteLink } from '@fedtune/shared';
import { startTinyCoordinator, tempDir, tryJoin } from './helpers.ts';

/**
 * An open coordinator (no site tokens) admits any free name, but one address may join only so often
 * (openJoinsPerMinute in bursts of openJoinBurst): before, one peer joining under endless fresh names grew
 * the run's audit log and database ~4 MB a minute.
 */
describe('joins without a site token per address', () => {
  it('over socket.io: past the burst a hello from the same address is answered rate_limited, whatever its name', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const refusals: string[] = [];
    const coordinator = await startTinyCoordinator({ runId: 'open-churn', minSites: 10, access: { store, openJoinsPerMinute: 1, openJoinBurst: 3, onRefusal: (r) => refusals.push(`${r.code} ${r.address}: ${r.reason}`) } });
    try {
      const answers: Array<{ event: string; code?: string; reason?: string }> = [];
      for (let i = 0; i < 5; i++) {
        const { site, answer } = await tryJoin(coordinator.url!, `fresh-${i}`);
        answers.push({ event: answer.event, ...(answer.payload as { code?: string; reason?: string }) });
        site.link.close();
      }
      expect(answers.slice(0, 3).map((a) => a.event)).toEqual(['welcome', 'welcome', 'welcome']);
      expect(answers[3]).toMatchObject({ event: 'rejected', code: 'rate_limited' });
      expect(answers[3].reason).toMatch(/^more than 1 joins a minute \(bursts of 3\) without a site token from \S+; retry in (59|60) s$/);
      expect(answers[4]).toMatchObject({ event: 'rejected', code: 'rate_limited' });
      // The coordinator's log has the first rate-limited refusal of the minute only.
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatch(/^rate_limited \S+: more than 1 joins a minute/);
    } finally {
      await coordinator.close();
      store.close();
    }
  });

  it('0 turns it off: many joins from one address all welcomed', async () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const coordinator = await startTinyCoordinator({ runId: 'open-unlimited', minSites: 10, access: { store, openJoinsPerMinute: 0, openJoinBurst: 1 } });
    try {
      for (let i = 0; i < 4; i++) {
        const { site, answer } = await tryJoin(coordinator.url!, `fresh-${i}`);
        expect(answer.event).toBe('welcome');
        site.link.close();
      }
    } finally {
      await coordinator.close();
      store.close();
    }
  });
});

describe('siteAuthorizer: the open-join bucket', () => {
  const link = (id: string) => ({ id }) as unknown as SiteLink;
  const helloOf = (siteId: string, token?: string) => ({ siteId, ...(token ? { token } : {}) }) as unknown as Hello;
  const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));

  it('defaults to 60 a minute in bursts of 2048, per address, refilled at one a second', () => {
    let t = 0;
    const authorize = siteAuthorizer({ store, addressOf: (l) => l.id, now: () => t });
    for (let i = 0; i < 2048; i++) expect(authorize(helloOf(`s-${i}`), link('10.0.0.1'))).toEqual({ ok: true, authenticated: false });
    expect(authorize(helloOf('s-x'), link('10.0.0.1'))).toMatchObject({ ok: false, code: 'rate_limited', reason: 'more than 60 joins a minute (bursts of 2048) without a site token from 10.0.0.1; retry in 1 s' });
    // Another address has its own bucket.
    expect(authorize(helloOf('s-y'), link('10.0.0.2'))).toEqual({ ok: true, authenticated: false });
    t += 999;
    expect(authorize(helloOf('s-x'), link('10.0.0.1'))).toMatchObject({ ok: false, code: 'rate_limited' });
    t += 1;
    expect(authorize(helloOf('s-x'), link('10.0.0.1'))).toEqual({ ok: true, authenticated: false });
  });

  it('an IPv6 peer is one bucket per /64', () => {
    const authorize = siteAuthorizer({ store, addressOf: (l) => l.id, openJoinsPerMinute: 1, openJoinBurst: 2, now: () => 0 });
    expect(authorize(helloOf('a'), link('2001:db8:1:2::1'))).toMatchObject({ ok: true });
    expect(authorize(helloOf('b'), link('2001:db8:1:2::ffff'))).toMatchObject({ ok: true });
    expect(authorize(helloOf('c'), link('2001:db8:1:2:abcd::9'))).toMatchObject({ ok: false, code: 'rate_limited' });
    expect(authorize(helloOf('d'), link('2001:db8:1:3::1'))).toMatchObject({ ok: true });
  });

  it('false turns it off; without an address (in memory) there is no limit', () => {
    const off = siteAuthorizer({ store, addressOf: (l) => l.id, openJoinsPerMinute: false, openJoinBurst: 1, now: () => 0 });
    for (let i = 0; i < 5; i++) expect(off(helloOf(`s-${i}`), link('10.0.0.1'))).toMatchObject({ ok: true });
    const noAddress = siteAuthorizer({ store, openJoinsPerMinute: 1, openJoinBurst: 1, now: () => 0 });
    for (let i = 0; i < 5; i++) expect(noAddress(helloOf(`s-${i}`), link('x'))).toMatchObject({ ok: true });
  });

  it('joins with tokens are not counted against it', () => {
    const strict = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const token = strict.add('site-a');
    const authorize = siteAuthorizer({ store: strict, addressOf: (l) => l.id, openJoinsPerMinute: 1, openJoinBurst: 1, now: () => 0 });
    for (let i = 0; i < 5; i++) expect(authorize(helloOf('site-a', token), link('10.0.0.1'))).toEqual({ ok: true, authenticated: true });
    strict.close();
  });
});
