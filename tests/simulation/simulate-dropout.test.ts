import { describe, expect, it } from 'vitest';
import { dropsOut } from '../../cli/src/simulation/dropout-connector.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * `fedtune simulate --dropout P`: each fit instruction a site gets, it drops out with probability P (seeded) — its
 * connection closes mid-round, the coordinator records it failed, and it reconnects and joins again for later rounds.
 * The README promised dropouts in simulation; no option made any (found by a new user).
 */
describe('dropsOut', () => {
  it('is seeded by the run seed, the site and the instruction; 0 never drops; the share of drops is about P', () => {
    expect(dropsOut(0.3, 42, 'site-1', 2, 1)).toBe(dropsOut(0.3, 42, 'site-1', 2, 1));
    const draws = (p: number, seed: number) => Array.from({ length: 4000 }, (_, i) => dropsOut(p, seed, `site-${i % 40}`, 1 + Math.floor(i / 40), 1));
    expect(draws(0, 42).some(Boolean)).toBe(false);
    const share = draws(0.3, 42).filter(Boolean).length / 4000;
    expect(Math.abs(share - 0.3)).toBeLessThan(0.03);
    expect(draws(0.3, 7)).not.toEqual(draws(0.3, 42));
    // Another attempt of the same round is another draw.
    const attempts = Array.from({ length: 200 }, (_, i) => [dropsOut(0.5, 1, `s-${i}`, 1, 1), dropsOut(0.5, 1, `s-${i}`, 1, 2)]);
    expect(attempts.some(([a, b]) => a !== b)).toBe(true);
  });
});

describe('simulate --dropout over real socket.io, 20 sites', () => {
  it('the dropped sites of each round are the seeded ones, failed in that round; they join again and train in later rounds', async () => {
    const seed = 5;
    const rounds = 4;
    const result = await runSimulation({
      sites: 20,
      rounds,
      seed,
      dropout: 0.25,
      out: tempDir(),
      transport: 'socket',
      workers: 1,
      config: { federatedEvaluation: 'never', robustness: { when: 'never' }, quorum: 0.5, train: { maxExamples: 40 } },
    } as never);
    const { report } = result;
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds).toHaveLength(rounds);
    let dropped = 0;
    const trainedAfterDrop = new Set<string>();
    const droppedSites = new Set<string>();
    for (const r of report.rounds) {
      // The first attempt's draw for every site it selected: those are the ones that dropped (a retry would draw again).
      const expected = r.attempts === 1 ? r.selected.filter((id) => dropsOut(0.25, seed, id, r.round, 1)).sort() : undefined;
      const failed = r.failed.map((f) => f.siteId).sort();
      if (expected) expect(failed).toEqual(expected);
      dropped += failed.length;
      for (const id of r.accepted.map((a) => a.siteId)) if (droppedSites.has(id)) trainedAfterDrop.add(id);
      for (const id of failed) droppedSites.add(id);
      // Nobody that answered failed.
      for (const id of r.accepted.map((a) => a.siteId)) expect(failed).not.toContain(id);
    }
    expect(dropped).toBeGreaterThan(5);
    // Sites that dropped came back: most of them trained in a later round.
    expect(trainedAfterDrop.size).toBeGreaterThan(0);
  }, 240_000);

  it('refused where it would do nothing: virtual sites; out of range', async () => {
    await expect(runSimulation({ sites: 4, rounds: 1, dropout: 1, out: tempDir() } as never)).rejects.toMatchObject({ code: 'config', message: 'dropout must be in [0, 1), got 1' });
    await expect(runSimulation({ sites: 4, rounds: 1, dropout: 0.2, siteData: { mode: 'resample', examples: 20 }, out: tempDir(), transport: 'memory' } as never)).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--dropout applies to sites made from a partition') });
  }, 120_000);
});
