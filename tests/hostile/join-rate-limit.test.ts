import { describe, expect, it } from 'vitest';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, helloAnswer } from './helpers.ts';

/**
 * Joins per site name are limited (`connectionLimits.joinsPerMinute`, default 10 a minute in bursts of 10). Found by
 * an attacker with one valid site token: it reconnected in a loop — 1,521 joins in 10 s, each a line in the audit
 * log and the console, and each new connection a fresh set of the per-connection byte budgets (7.6 GB of junk in
 * 20 s, health p50 2.5 → 81 ms). A hello past the limit is refused with `rate_limited`, saying when the name may
 * join again; other names are not affected; a refused hello costs the name nothing.
 */
const hello = helloAnswer;

describe('joins per site name (connectionLimits.joinsPerMinute)', () => {
  it.each([
    ['the default: 10 joins, then refused (one more in 6 s)', undefined, 10, '(6|5)'],
    ['3 a minute: 3 joins, then refused (one more in 20 s)', 3, 3, '(20|19)'],
  ] as const)('%s; another name still joins', async (_label, joinsPerMinute, allowed, seconds) => {
    const coordinator = await startTinyCoordinator({ runId: 'join-limit', minSites: 3, connectionLimits: joinsPerMinute === undefined ? {} : { joinsPerMinute } });
    try {
      const answers = [];
      for (let i = 0; i < allowed + 2; i++) answers.push(await hello(coordinator.url!, 'site-z'));
      expect(answers.slice(0, allowed)).toEqual(new Array(allowed).fill('welcome'));
      for (const refused of answers.slice(allowed)) {
        expect(refused).toMatchObject({ code: 'rate_limited', reason: expect.stringMatching(new RegExp(`^site site-z joined more than ${allowed} times in a minute \\(connectionLimits\\.joinsPerMinute\\): it may join again in ${seconds} s$`)) });
      }
      expect(await hello(coordinator.url!, 'site-y')).toBe('welcome');
    } finally {
      await coordinator.close();
    }
  }, 60_000);

  it('0 turns it off: 25 joins in a row', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'join-limit', minSites: 3, connectionLimits: { joinsPerMinute: 0 } });
    try {
      for (let i = 0; i < 25; i++) expect(await hello(coordinator.url!, 'site-z')).toBe('welcome');
    } finally {
      await coordinator.close();
    }
  }, 60_000);

  it('a hello refused for another reason (a live name in an open run) costs the name no join', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'join-limit', minSites: 3, connectionLimits: { joinsPerMinute: 2 } });
    try {
      const holder = await attacker(coordinator.url!);
      holder.hello('site-z');
      await holder.next('welcome');
      // The name is held by a live connection: refused site_in_use, three times.
      for (let i = 0; i < 3; i++) expect(await hello(coordinator.url!, 'site-z')).toMatchObject({ code: 'site_in_use' });
      holder.socket.close();
      await new Promise((r) => setTimeout(r, 200));
      // One join left of the two (the holder's): taken, then refused.
      expect(await hello(coordinator.url!, 'site-z')).toBe('welcome');
      expect(await hello(coordinator.url!, 'site-z')).toMatchObject({ code: 'rate_limited' });
    } finally {
      await coordinator.close();
    }
  }, 60_000);
});
