import { afterEach, expect, it } from 'vitest';
import { signed, siteAgainst, terms, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

// A coordinator could make a site buffer and parse messages of up to ws's 100 MiB (ten such attachments to a
// packet) before any check. Now a Node site takes frameLimits.preTermsMessageBytes (16 MiB) until it accepts the
// run's terms, then what the terms' model needs: three float32 copies of its parameters and 1 MiB (SiteClient calls
// the link's allowMessagesForModel as it accepts). A 20 MiB message after the terms: taken in a run of 2 M
// parameters (an unknown event, refused as invalid, the site stays), the connection cut in a run of 1,000.
it.each([
  { parameters: 2_000_000, cut: false },
  { parameters: 1_000, cut: true },
])('a 20 MiB message after the terms, in a run of $parameters parameters: cut $cut', async ({ parameters, cut }) => {
  const t = terms((x) => {
    x.model.parameters = parameters;
  });
  const run = await siteAgainst(signed(t), (link) => link.sendUnchecked('oversized', 'a'.repeat(20 * 1024 * 1024)));
  runs.push(run);
  await until(() => run.received.some((m) => m.event === 'acceptTerms'), 'the terms accepted');
  if (cut) {
    const outcome = await run.outcome;
    expect(outcome.completed).toBe(false);
    expect(run.events.some((e) => JSON.stringify(e).includes(`the coordinator sent a message larger than the site's limit of ${16 * 1024 * 1024} bytes: connection cut`))).toBe(true);
  } else {
    await until(() => run.events.some((e) => e.type === 'rejected' && /invalid message/.test(e.reason)), 'the oversized message refused as invalid');
    expect(run.client).toBeDefined();
  }
}, 30_000);
