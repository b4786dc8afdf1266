import { describe, expect, it } from 'vitest';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, helloAnswer, until, type Attacker } from './helpers.ts';

/**
 * A joined site whose connection is cut for too many refused messages may not join again under its name for
 * `connectionLimits.refusalCutCooldownMs` (default 30 s). Found by an attacker speaking the wire protocol: a
 * peer with a valid name sent ~22 refused updates, was cut, rejoined at once and repeated — every refusal a
 * line in the audit log and the log, 290 MB an hour from one sequential client.
 */
async function joinedPeer(url: string, siteId: string): Promise<Attacker> {
  const peer = await attacker(url);
  peer.hello(siteId);
  await peer.next('welcome');
  return peer;
}

/** Joins as `siteId` and sends refused messages (a second hello each) until the connection is cut. */
async function cutPeer(url: string, siteId: string): Promise<void> {
  const peer = await joinedPeer(url, siteId);
  for (let i = 0; i < 4; i++) peer.hello(siteId);
  expect(await peer.closed).toBe('io server disconnect');
}

describe('a site cut for too many refusals may not rejoin at once (refusalCutCooldownMs)', () => {
  it('by default its name is refused for 30 s after the cut; other names join; the cooldown is told in whole seconds', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'cut-cooldown', minSites: 3, connectionLimits: { maxRefusals: 3, refusalWindowMs: 60_000 } });
    try {
      await cutPeer(coordinator.url!, 'site-z');
      const again = await helloAnswer(coordinator.url!, 'site-z');
      expect(again).toMatchObject({ code: 'rate_limited', reason: expect.stringMatching(/^site site-z was cut for more than 3 refused messages: it may join again in (30|29) s$/) });
      expect(await helloAnswer(coordinator.url!, 'site-y')).toBe('welcome');
    } finally {
      await coordinator.close();
    }
  });

  it.each([
    ['0 turns it off: the name rejoins at once', 0, 0, 'welcome'],
    ['a short cooldown: refused within it', 2_000, 0, 'refused'],
    ['a short cooldown: the name joins again once it has passed', 300, 600, 'welcome'],
  ] as const)('%s', async (_label, refusalCutCooldownMs, waitMs, want) => {
    const coordinator = await startTinyCoordinator({ runId: 'cut-cooldown', minSites: 3, connectionLimits: { maxRefusals: 3, refusalWindowMs: 60_000, refusalCutCooldownMs } });
    try {
      await cutPeer(coordinator.url!, 'site-z');
      await until(() => !coordinator.engine.sites.has('site-z'), 'site-z gone');
      await new Promise((r) => setTimeout(r, waitMs));
      const again = await helloAnswer(coordinator.url!, 'site-z');
      if (want === 'welcome') expect(again).toBe('welcome');
      else expect(again).toMatchObject({ code: 'rate_limited', reason: expect.stringMatching(/^site site-z was cut .*: it may join again in 2 s$/) });
    } finally {
      await coordinator.close();
    }
  });
});
