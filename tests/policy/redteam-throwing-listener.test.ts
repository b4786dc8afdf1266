import { afterEach, expect, it } from 'vitest';
import { fitOf, realModelRun, signed, siteAgainst, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

const timeout = (ms: number) => new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms));

// The site's event listener (a log line; the Node site's audit log on a full disk or a removed file) throws on
// every event. It used to leave the site's message queue rejected: every later instruction was skipped (no
// fitResult, no siteFailure) and the close too, so run() never returned, with an unhandled rejection per message.
it('a throwing onEvent listener neither stops the site answering nor keeps its run from ending', async () => {
  const { t, weights, modelMessage } = await realModelRun();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const run = await siteAgainst(signed(t), (link) => {
      link.sendUnchecked('model', modelMessage);
      link.sendUnchecked('fit', fitOf(t, 1, { weights }));
    }, { onEvent: (e) => { throw new Error(`listener failed on ${e.type}`); } });
    runs.push(run);
    // The fit is answered despite the listener.
    await until(() => run.received.some((m) => m.event === 'fitResult'), 'the fitResult');
    // The coordinator closes: the site's run ends.
    await run.close();
    const ended = await Promise.race([run.outcome, timeout(5_000)]);
    expect(ended).toMatchObject({ completed: false, roundsTrained: 1 });
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}, 30_000);
