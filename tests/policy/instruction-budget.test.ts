import { afterEach, describe, expect, it } from 'vitest';
import { deriveSeed, encodeWeights, INSTRUCTION_LIMITS, InstructionBudget, splitDataset, type MessageOf, type ServerToClient, type SiteLink } from '@fedtune/shared';
import { tinyData } from '../access/helpers.ts';
import { fitOf, realModelRun, signed, siteAgainst, until, type SiteRun } from './redteam-harness.ts';

const msg = (event: string, payload: Record<string, unknown>) => ({ event, payload }) as unknown as MessageOf<ServerToClient>;
const fit = (round: number) => msg('fit', { runId: 'r', round });
const evaluate = (round: number, calibration = false) => msg('evaluate', { runId: 'r', round, ...(calibration ? { calibration: { betas: [1] } } : {}) });
const report = () => msg('siteReport', { runId: 'r', round: 3 });

/** Takes `message` n times; the reasons given (undefined while within the limit). */
function takeTimes(budget: InstructionBudget, message: MessageOf<ServerToClient>, n: number): Array<string | undefined> {
  return Array.from({ length: n }, () => budget.take(message, 0));
}

describe('InstructionBudget: how often a coordinator may ask a site for the same work', () => {
  it.each([
    ['fit', fit(2), INSTRUCTION_LIMITS.fitsPerRound, "the coordinator asked for round 2's fit 11 times: this site answers at most 10"],
    ['evaluate', evaluate(2), INSTRUCTION_LIMITS.evaluationsPerRound, 'the coordinator asked for an evaluation of round 2 4 times: this site answers at most 3'],
    ['calibration', evaluate(2, true), INSTRUCTION_LIMITS.calibrationQuestionsPerRound, 'the coordinator asked for a calibration of round 2 65 times: this site answers at most 64'],
    ['siteReport', report(), INSTRUCTION_LIMITS.siteReportsPerRun, 'the coordinator asked for a site report 3 times: this site answers at most 2'],
  ])('%s: answered up to its limit, the next one refused in one line', (_name, message, limit, reason) => {
    const budget = new InstructionBudget();
    const reasons = takeTimes(budget, message, limit + 1);
    expect(reasons.slice(0, limit).every((r) => r === undefined)).toBe(true);
    expect(reasons[limit]).toBe(reason);
  });

  it('counts each round on its own, evaluations apart from calibration questions, and leaves other messages alone', () => {
    const budget = new InstructionBudget({ ...INSTRUCTION_LIMITS, fitsPerRound: 1, evaluationsPerRound: 1, calibrationQuestionsPerRound: 1 });
    expect([budget.take(fit(1), 0), budget.take(fit(2), 0), budget.take(fit(3), 0)]).toEqual([undefined, undefined, undefined]);
    expect(budget.take(fit(2), 0)).toMatch(/round 2's fit 2 times/);
    expect([budget.take(evaluate(1), 0), budget.take(evaluate(1, true), 0)]).toEqual([undefined, undefined]);
    for (const event of ['model', 'welcome', 'terms', 'secaggKeys', 'complete']) expect(budget.take(msg(event, { round: 1 }), 1_000)).toBeUndefined();
  });

  it('a flood: a counted instruction arriving while the limit of others wait is refused, whatever its count', () => {
    const budget = new InstructionBudget();
    expect(budget.take(fit(1), INSTRUCTION_LIMITS.pending - 1)).toBeUndefined();
    expect(budget.take(fit(1), INSTRUCTION_LIMITS.pending)).toBe(`more than ${INSTRUCTION_LIMITS.pending} instructions arrived before this site could carry them out`);
  });
});

describe('a real site asked for the same fit again and again by a hostile coordinator (socket.io)', () => {
  const runs: SiteRun[] = [];
  afterEach(async () => {
    for (const r of runs.splice(0)) await r.close();
  });

  it(`answers round 1's fit ${INSTRUCTION_LIMITS.fitsPerRound} times, refuses the next with policy_refused and leaves: nothing more is answered`, async () => {
    const { t, manifest, modelMessage } = await realModelRun((x) => {
      x.train.maxExamples = 20;
    });
    const craft = (k: number) => encodeWeights({ manifest, arrays: [Float32Array.from({ length: 12 }, (_, i) => ((i * 7 + k) % 5) - 2), new Float32Array(3)] });
    let link!: SiteLink;
    const run = await siteAgainst(signed(t), (l) => {
      link = l;
      l.sendUnchecked('model', modelMessage);
    }, { data: splitDataset(tinyData(300, 3), deriveSeed(1, 'split', 'site-a')) });
    runs.push(run);
    await until(() => link !== undefined, 'accept');
    const count = (e: string) => run.received.filter((m) => m.event === e).length;
    const n = INSTRUCTION_LIMITS.fitsPerRound + 5;
    for (let i = 0; i < n; i++) link.sendUnchecked('fit', fitOf(t, 1, { modelVersion: 1, weights: craft(i) }));
    await until(() => count('siteFailure') > 0, 'the refusal', 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const failure = run.received.find((m) => m.event === 'siteFailure')!;
    expect(failure.payload).toMatchObject({ code: 'policy_refused', reason: `refused "fit": the coordinator asked for round 1's fit ${INSTRUCTION_LIMITS.fitsPerRound + 1} times: this site answers at most ${INSTRUCTION_LIMITS.fitsPerRound}` });
    // Refused as it arrived: the fits queued before it are dropped too (the site left), so at most the limit were answered.
    expect(count('fitResult')).toBeLessThanOrEqual(INSTRUCTION_LIMITS.fitsPerRound);
    expect(count('siteFailure')).toBe(1);
  }, 120_000);
});
