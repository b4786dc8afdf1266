import { describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';
import { attacker, honestSite, type Attacker } from '../hostile/helpers.ts';

/**
 * A coordinator restarted with --resume keeps the cooldowns of sites that gave no answer (they ride in the
 * checkpoint): over real socket.io, a silent peer that missed rounds 1 and 3 sits out rounds 4–5 after the restart
 * as it would have without one. Before, a resumed run started with no cooldowns: the silent peer was asked in
 * round 4 and held it until the round's deadline. docs/operations.md#sites-that-do-not-answer.
 */

const HONEST = ['site-1', 'site-2', 'site-3', 'site-4'];
const TIMEOUT_MS = 2_000;

async function federation(runsDir: string, rounds: number, resume: boolean): Promise<{ report: RunReport; silentAskedToFit: number; missedRounds: number | undefined }> {
  const runId = 'cooldown-resume';
  const coordinator = await startTinyCoordinator({ runId, runsDir, checkpoints: true, resume, minSites: 5, rounds, config: { runId, quorum: 0.5, roundTimeoutMs: TIMEOUT_MS } });
  let silent: Attacker | undefined;
  try {
    silent = await attacker(coordinator.url!);
    silent.hello('silent-1');
    await silent.next('welcome');
    const honest = await Promise.all(HONEST.map((id, i) => honestSite(coordinator.url!, id, { seed: i + 3 })));
    const report = await coordinator.done;
    for (const h of honest) expect((await h.run).completed).toBe(true);
    const sites = ((await (await fetch(`${coordinator.url}/api/runs/${runId}/sites`)).json()) as { sites: Array<{ siteId: string; missedRounds?: number }> }).sites;
    return { report, silentAskedToFit: silent.received.filter((m) => m.event === 'fit').length, missedRounds: sites.find((s) => s.siteId === 'silent-1')?.missedRounds };
  } finally {
    silent?.socket.close();
    await coordinator.close();
  }
}

describe('cooldowns survive a restart (real socket.io, checkpoints on disk)', () => {
  it('a silent site that missed rounds 1 and 3 sits out rounds 4 and 5 of the resumed run; it is still on record with 2 misses', { timeout: 120_000 }, async () => {
    const runsDir = tempDir('fedtune-cool-resume-');
    const first = await federation(runsDir, 3, false);
    expect(first.report.status, first.report.aborted).toBe('complete');
    expect(first.report.rounds.map((r) => r.failed.map((f) => f.siteId))).toEqual([['silent-1'], [], ['silent-1']]);
    expect(first.report.rounds[1].cooling).toEqual({ count: 1, sites: ['silent-1'] });
    expect(first.silentAskedToFit).toBe(2);

    const second = await federation(runsDir, 5, true);
    expect(second.report.status, second.report.aborted).toBe('complete');
    expect(second.report.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    const [r4, r5] = second.report.rounds.slice(3);
    for (const r of [r4, r5]) {
      expect(r.selected).toEqual(HONEST);
      expect(r.cooling).toEqual({ count: 1, sites: ['silent-1'] });
      expect(r.failed).toEqual([]);
    }
    // The resumed coordinator never asked it to train, and still counts its misses in a row.
    expect(second.silentAskedToFit).toBe(0);
    expect(second.missedRounds).toBe(2);
  });
});
