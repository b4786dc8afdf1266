import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunDatabase, startCoordinator, type EngineEvent, type RunConfigInput, type RunningCoordinator } from '@fedtune/coordinator';
import { MemoryNetwork, SiteClient, splitDataset, type RunReport, type SiteOutcome, type UpdateHook, type WeightArrays } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData, tinyModel } from '../access/helpers.ts';
import { tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/**
 * Effect tests of the run config's membership and round-timing fields (run-config-field-coverage.test.ts):
 * runId, minSites, joinTimeoutMs, roundTimeoutMs, maxRoundAttempts and rejoinGraceMs. Each runs the real
 * coordinator and SiteClients over the in-memory network with the tiny 4-feature model, twice, with run configs
 * that differ only in the field, and asserts the outcome the field is for: where the run is written, when it
 * starts, how it ends, who is in a round, how often a round is tried.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SiteSpec {
  id: string;
  hook?: UpdateHook;
  /** Reconnect after a drop, after this delay (ms). */
  reconnectMs?: number;
}

interface Federation {
  coordinator: RunningCoordinator;
  runsDir: string;
  events: EngineEvent[];
  /** Starts a site (now or later); its run settles when the run is over for it. */
  join(site: SiteSpec): void;
  /** The report, with every site's run settled; closes the coordinator. */
  finish(): Promise<RunReport>;
  /** The sites' outcomes (once finished). */
  outcomes: Array<SiteOutcome | undefined>;
}

const open: Federation[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.coordinator.close().catch(() => undefined);
});

async function federation(config: Partial<RunConfigInput>, sites: SiteSpec[], onEvent?: (e: EngineEvent, fed: Federation) => void, database = false): Promise<Federation> {
  const backend = await selectNodeBackend();
  const memory = new MemoryNetwork();
  const runsDir = tempDir('fedtune-membership-');
  const events: EngineEvent[] = [];
  const runs: Array<Promise<SiteOutcome | undefined>> = [];
  const outcomes: Array<SiteOutcome | undefined> = [];
  let fed!: Federation;
  const coordinator = await startCoordinator({
    runsDir,
    model: tinyModel(),
    architecture: 'tiny',
    holdout: tinyData(60, 99),
    backend: backend.backend,
    transport: memory,
    checkpoints: false,
    database,
    onEvent: (e) => {
      events.push(e);
      onEvent?.(e, fed);
    },
    config: {
      runId: 'membership',
      rounds: 1,
      minSites: 2,
      seed: 1,
      quorum: 0.5,
      roundTimeoutMs: 30_000,
      joinTimeoutMs: 30_000,
      federatedEvaluation: 'never',
      robustness: { when: 'never' },
      maxAccuracyDrop: 1,
      train: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' },
      ...config,
    },
  });
  fed = {
    coordinator,
    runsDir,
    events,
    outcomes,
    join: (site) => {
      const client = new SiteClient({
        siteId: site.id,
        connector: memory.connector(),
        data: splitDataset(tinyData(40, 10 + Number(site.id.split('-')[1])), 5),
        backend: backend.backend,
        runtime: 'node',
        policy: testSitePolicy(),
        ...(site.hook ? { updateHook: site.hook } : {}),
        ...(site.reconnectMs !== undefined ? { reconnect: { retries: 2, baseDelayMs: site.reconnectMs, startupWindowMs: 0 } } : {}),
      });
      runs.push(client.run().catch(() => undefined));
    },
    finish: async () => {
      const report = await coordinator.done;
      outcomes.push(...(await Promise.all(runs)));
      await coordinator.close();
      return report;
    },
  };
  open.push(fed);
  for (const site of sites) fed.join(site);
  return fed;
}

const ids = (xs: ReadonlyArray<{ siteId: string }>) => xs.map((x) => x.siteId).sort();
const starts = (events: EngineEvent[], round: number) => events.filter((e): e is Extract<EngineEvent, { type: 'round-start' }> => e.type === 'round-start' && e.round === round);
const nanHook: UpdateHook = (w: WeightArrays) => w.map((a, i) => (i === 0 ? a.map((v, j) => (j === 0 ? NaN : v)) : a));

describe('membership and round-timing fields of the run config change what a run does', () => {
  it('runId names the run: its directory, its report, its database row, and the run the sites took part in', { timeout: 60_000 }, async () => {
    for (const runId of ['run-alpha', 'run-beta']) {
      const fed = await federation({ runId }, [{ id: 'site-1' }, { id: 'site-2' }], undefined, true);
      const report = await fed.finish();
      expect(report.status).toBe('complete');
      expect(report.runId).toBe(runId);
      const other = runId === 'run-alpha' ? 'run-beta' : 'run-alpha';
      expect(JSON.parse(readFileSync(join(fed.runsDir, runId, 'report.json'), 'utf8')).runId).toBe(runId);
      expect(existsSync(join(fed.runsDir, other))).toBe(false);
      expect(fed.outcomes.map((o) => [o?.completed, o?.runId])).toEqual([[true, runId], [true, runId]]);
      const db = new RunDatabase(join(fed.runsDir, 'fedtune.db'));
      try {
        expect(db.listRuns().map((r) => [r.runId, r.status])).toEqual([[runId, 'complete']]);
      } finally {
        db.close();
      }
    }
  });

  it('minSites: the first round starts only once that many sites have joined', { timeout: 60_000 }, async () => {
    const firstRound = async (minSites: number) => {
      // site-3 joins once the coordinator has two sites and is still waiting, or once round 1 has begun without it.
      let third = false;
      const fed = await federation({ minSites }, [{ id: 'site-1' }, { id: 'site-2' }], (e, f) => {
        const twoWaiting = e.type === 'waiting' && e.joined === 2;
        if (!third && (twoWaiting || e.type === 'round-start')) {
          third = true;
          f.join({ id: 'site-3' });
        }
      });
      const report = await fed.finish();
      expect(report.status).toBe('complete');
      return { selected: report.rounds[0]!.selected, waitedFor: fed.events.filter((e) => e.type === 'waiting').map((e) => (e as { needed: number }).needed) };
    };
    const two = await firstRound(2);
    const three = await firstRound(3);
    expect(two.selected).toEqual(['site-1', 'site-2']);
    expect(three.selected).toEqual(['site-1', 'site-2', 'site-3']);
    expect(new Set(three.waitedFor)).toEqual(new Set([3]));
  });

  it('joinTimeoutMs: too few sites end the run aborted once it has passed; 0 waits on', { timeout: 60_000 }, async () => {
    const started = Date.now();
    const timed = await federation({ minSites: 3, joinTimeoutMs: 400 }, [{ id: 'site-1' }, { id: 'site-2' }]);
    const report = await timed.finish();
    expect(report.status).toBe('aborted');
    expect(report.aborted).toBe('only 2 of 3 sites joined within 400 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(report.rounds).toHaveLength(0);

    const forever = await federation({ minSites: 3, joinTimeoutMs: 0 }, [{ id: 'site-1' }, { id: 'site-2' }]);
    await sleep(1_500);
    expect(forever.coordinator.engine.report.status).toBe('waiting');
    expect(forever.events.some((e) => e.type === 'round-start')).toBe(false);
  });

  it('roundTimeoutMs: a site that answers after it is recorded as failed and the round closes without it', { timeout: 60_000 }, async () => {
    // site-2 answers 3 s after it is asked.
    const slow: UpdateHook = async (w) => (await sleep(3_000), w);
    const round = async (roundTimeoutMs: number) => {
      const fed = await federation({ roundTimeoutMs }, [{ id: 'site-1' }, { id: 'site-2', hook: slow }]);
      const report = await fed.finish();
      expect(report.status).toBe('complete');
      return report.rounds[0]!;
    };
    const short = await round(1_500);
    expect(ids(short.accepted)).toEqual(['site-1']);
    expect(short.failed).toEqual([{ siteId: 'site-2', reason: 'no result within 1500 ms' }]);
    const long = await round(20_000);
    expect(ids(long.accepted)).toEqual(['site-1', 'site-2']);
    expect(long.failed).toEqual([]);
  });

  it('maxRoundAttempts: a round that cannot meet its quorum is tried exactly that many times, then the run aborts', { timeout: 60_000 }, async () => {
    // quorum 1: site-1's NaN update is refused every time, so no attempt can succeed.
    const attempts = async (maxRoundAttempts: number) => {
      const fed = await federation({ quorum: 1, maxRoundAttempts }, [{ id: 'site-1', hook: nanHook }, { id: 'site-2' }]);
      const report = await fed.finish();
      expect(report.status).toBe('aborted');
      expect(report.aborted).toMatch(new RegExp(`^round 1 failed after ${maxRoundAttempts} attempt\\(s\\): quorum not met`));
      return { starts: starts(fed.events, 1).map((e) => e.attempt), retries: fed.events.filter((e) => e.type === 'round-retry').length };
    };
    expect(await attempts(1)).toEqual({ starts: [1], retries: 0 });
    expect(await attempts(3)).toEqual({ starts: [1, 2, 3], retries: 2 });
  });

  it('rejoinGraceMs: a site that dropped and rejoins within the grace is in the next round; one that rejoins after it is not', { timeout: 60_000 }, async () => {
    const secondRound = async (rejoinGraceMs: number) => {
      let dropped = false;
      // site-2 is cut off as round 1 starts and reconnects 2.5 s later; site-1 answers round 1 once site-2 has left,
      // so round 2 begins with one of the two minSites joined.
      let fed!: Federation;
      const waitForDrop: UpdateHook = async (w, { round }) => {
        while (round === 1 && fed.coordinator.engine.sites.get('site-2')) await sleep(10);
        return w;
      };
      fed = await federation({ rounds: 2, rejoinGraceMs }, [{ id: 'site-1', hook: waitForDrop }, { id: 'site-2', reconnectMs: 2_500 }], (e, f) => {
        if (e.type === 'round-start' && e.round === 1 && !dropped) {
          dropped = true;
          setImmediate(() => f.coordinator.engine.sites.get('site-2')?.link.close());
        }
      });
      const report = await fed.finish();
      expect(report.status).toBe('complete');
      expect(report.rounds[0]!.failed.map((x) => x.siteId)).toEqual(['site-2']);
      return report.rounds[1]!.selected;
    };
    expect(await secondRound(20_000)).toEqual(['site-1', 'site-2']);
    expect(await secondRound(200)).toEqual(['site-1']);
    // 0: no grace at all (the round goes on at once with whoever is joined).
    expect(await secondRound(0)).toEqual(['site-1']);
  });
});
