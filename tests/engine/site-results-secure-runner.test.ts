import { describe, expect, it } from 'vitest';
import { FedtuneError, SecAggUnrecoverableError } from '@fedtune/shared';
import { RoundCollector } from '../../coordinator/src/engine/round-collector.ts';
import { secAggInstruction, SecureAggregationRound } from '../../coordinator/src/engine/secure-aggregation-round.ts';
import { SecureRoundRunner, UNRECOVERABLE_REASON } from '../../coordinator/src/engine/secure-round-runner.ts';

/**
 * Secure aggregation's orchestration of one attempt (secure-round-runner.ts) over a stand-in run context: the
 * threshold or why the attempt cannot run, the weight denominator (what the selected sites announced, capped),
 * the DP variants, the messages it lets through to connected sites only, and what it records of the sites an
 * attempt lost — silent, dropped after sharing keys, or with unusable shares — never a wrong sum.
 */

const RUN = 'secure-runner';
// Two tensors: 3 × 2 and 4 values.
const MANIFEST = [{ name: 'w', shape: [3, 2], dtype: 'float32' as const }, { name: 'b', shape: [4], dtype: 'float32' as const }];

interface FakeSite {
  siteId: string;
  numExamples: number;
  link: { closed: boolean; send(event: string, payload: unknown): void };
}

function fakeRun(examples: Record<string, number>, config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const sent: Array<{ siteId: string; event: string; payload: unknown }> = [];
  const sites = new Map<string, FakeSite>(
    Object.entries(examples).map(([siteId, numExamples]) => [siteId, { siteId, numExamples, link: { closed: false, send: (event: string, payload: unknown) => void sent.push({ siteId, event, payload }) } }]),
  );
  const ctx: Record<string, any> = {
    config: { runId: RUN, roundTimeoutMs: 45_000, maxExamplesPerSite: 500, train: {}, secureAggregation: { clip: 1 }, ...config },
    options: { model: { manifest: MANIFEST } },
    sites: { get: (id: string) => sites.get(id) },
    secureRound: undefined,
    ...extra,
  };
  return { ctx, sites, sent, runner: new SecureRoundRunner(ctx as never) };
}

/** The options the attempt's SecureAggregationRound was built with. */
const optionsOf = (round: SecureAggregationRound) => (round as unknown as { o: Record<string, any> }).o;

describe('prepareSecureRound', () => {
  it('fewer selected sites than the threshold needs: why, and no round', () => {
    const { runner } = fakeRun({ a: 10 });
    expect(runner.prepareSecureRound(1, 1, ['a'])).toEqual({ failure: 'quorum not met: secure aggregation needs at least 2 sites, 1 selected' });
    expect(runner.prepareSecureRound(1, 1, [])).toEqual({ failure: 'quorum not met: secure aggregation needs at least 2 sites, 0 selected' });
    const five = fakeRun({ a: 1, b: 1, c: 1 }, { secureAggregation: { clip: 1, threshold: 5 } });
    expect(five.runner.prepareSecureRound(1, 1, ['a', 'b', 'c'])).toEqual({ failure: 'quorum not met: secure aggregation needs at least 5 sites, 3 selected' });
  });

  it('weights by the examples the selected sites announced (each capped at train.maxExamples), with the model\'s length', () => {
    const { runner } = fakeRun({ a: 10, b: 300, c: 50, d: 7 }, { train: { maxExamples: 100 } });
    const { round, instruction, failure } = runner.prepareSecureRound(4, 2, ['c', 'a', 'b', 'gone']);
    expect(failure).toBeUndefined();
    // 10 + min(300, 100) + 50 + 0 (a site no longer joined announces nothing); d is not selected.
    expect(instruction).toEqual(secAggInstruction(2, ['c', 'a', 'b', 'gone'], 3, 10, { clip: 1 }, 160));
    expect(instruction!.weighting).toBe('examples');
    const o = optionsOf(round!);
    expect(o).toMatchObject({ runId: RUN, round: 4, instruction, lengths: [6, 4], firstPhaseTimeoutMs: 45_000, phaseTimeoutMs: 45_000, maxExamples: 500 });
    expect(o.announced('b')).toBe(300);
    expect(o.announced('zz')).toBeUndefined();
    const uncapped = fakeRun({ a: 10, b: 300 }).runner.prepareSecureRound(1, 1, ['a', 'b']);
    expect(uncapped.instruction!.weightDenominator).toBe(310);
  });

  it('a denominator of at least 1 (sites announcing no examples); the phase deadline when configured', () => {
    const { runner } = fakeRun({ a: 0, b: 0 }, { secureAggregation: { clip: 2, phaseTimeoutMs: 1234 } });
    const { round, instruction } = runner.prepareSecureRound(1, 1, ['a', 'b']);
    expect(instruction!.weightDenominator).toBe(1);
    expect(optionsOf(round!)).toMatchObject({ firstPhaseTimeoutMs: 45_000, phaseTimeoutMs: 1234 });
  });

  it('with DP every site weighs the same (1 / selected); distributed noise only when the run adds it at the sites', () => {
    const dp = { noiseMultiplier: 0.7 };
    const central = fakeRun({ a: 10, b: 30, c: 5 }, { dp }).runner.prepareSecureRound(1, 1, ['a', 'b', 'c']);
    expect(central.instruction).toEqual(secAggInstruction(1, ['a', 'b', 'c'], 2, 10, { clip: 1 }, 3, 'uniform'));
    const distributed = fakeRun({ a: 10, b: 30, c: 5 }, { dp }, { dpNoise: 'distributed' }).runner.prepareSecureRound(1, 1, ['a', 'b', 'c']);
    expect(distributed.instruction).toEqual(secAggInstruction(1, ['a', 'b', 'c'], 2, 10, { clip: 1 }, 3, 'uniform', { noiseMultiplier: 0.7 }));
    expect(distributed.instruction!.distributedNoise).toMatchObject({ noiseMultiplier: 0.7 });
  });

  it('sends only to a connected site, and says whether it could', () => {
    const { runner, sites, sent } = fakeRun({ a: 10, b: 10 });
    const { round } = runner.prepareSecureRound(1, 1, ['a', 'b']);
    const send = optionsOf(round!).send;
    expect(send('a', 'secaggUnmask', { x: 1 })).toBe(true);
    sites.get('b')!.link.closed = true;
    expect(send('b', 'secaggUnmask', { x: 2 })).toBe(false);
    expect(send('zz', 'secaggUnmask', { x: 3 })).toBe(false);
    expect(sent).toEqual([{ siteId: 'a', event: 'secaggUnmask', payload: { x: 1 } }]);
  });
});

/** A stand-in secure round: `run` resolves with `result` or throws `error`; `reports` are the sites that advertised, `silentIn` those a phase waited for until its deadline. */
function stubRound(o: { survivors?: string[]; dropped?: string[]; error?: unknown; reported?: string[]; silentIn?: Array<[string, string]> }, seen?: (ctx: unknown) => void) {
  return {
    reports: new Map((o.reported ?? []).map((id) => [id, { siteId: id }])),
    silentIn: new Map(o.silentIn ?? []),
    run: async () => {
      seen?.(undefined);
      if (o.error) throw o.error;
      return { survivors: o.survivors ?? [], dropped: o.dropped ?? [] };
    },
  } as unknown as SecureAggregationRound;
}

describe('runSecureRound', () => {
  it('no secure round (it could not run): the collector is finished, nothing else', async () => {
    const { runner } = fakeRun({});
    const collector = new RoundCollector(1, new Set(['a']), 60_000);
    expect(await runner.runSecureRound(undefined, ['a'], collector)).toEqual({});
    expect(collector.closed).toBe(true);
    expect(collector.failed).toEqual([]);
  });

  it('the survivors\' sum: the selected sites not in it and not heard from are failed, silent or dropped after sharing keys', async () => {
    const { runner, ctx } = fakeRun({});
    const collector = new RoundCollector(1, new Set(['a', 'b', 'c', 'd', 'e']), 60_000);
    collector.fail('e', 'it failed');
    let during: unknown;
    const secure = stubRound({ survivors: ['a', 'b'], dropped: ['d'], reported: ['a', 'b', 'd'] });
    const run = secure.run.bind(secure);
    secure.run = async () => ((during = ctx.secureRound), run());
    const out = await runner.runSecureRound(secure, ['a', 'b', 'c', 'd', 'e'], collector);
    expect(during).toBe(secure);
    expect(ctx.secureRound).toBeUndefined();
    expect(out.silent).toEqual(['c', 'd']);
    expect(out.result).toEqual({ survivors: ['a', 'b'], dropped: ['d'] });
    expect(out).not.toHaveProperty('failure');
    expect(collector.failed).toEqual([
      { siteId: 'e', reason: 'it failed' },
      { siteId: 'c', reason: 'no secure-aggregation message before the phase deadline' },
      { siteId: 'd', reason: 'dropped after sharing its keys (its masks were removed)' },
    ]);
    expect(collector.closed).toBe(true);
  });

  it('a lost quorum is the attempt\'s failure: the silent sites (neither answered nor advertised) are failed', async () => {
    const { runner, ctx } = fakeRun({});
    const collector = new RoundCollector(1, new Set(['a', 'b', 'c', 'd']), 60_000);
    collector.fail('d', 'left');
    const out = await runner.runSecureRound(stubRound({ error: new FedtuneError('quorum_not_met', 'only 1 advertised'), reported: ['a'] }), ['a', 'b', 'c', 'd'], collector);
    expect(out).toEqual({ failure: 'only 1 advertised', silent: ['b', 'c'] });
    expect(collector.failed).toEqual([
      { siteId: 'd', reason: 'left' },
      { siteId: 'b', reason: 'no secure-aggregation message before the phase deadline' },
      { siteId: 'c', reason: 'no secure-aggregation message before the phase deadline' },
    ]);
    expect(collector.closed).toBe(true);
    expect(ctx.secureRound).toBeUndefined();
  });

  it('a lost quorum: sites that advertised and then went silent in a later phase are failed too, named with the phase', async () => {
    const { runner } = fakeRun({});
    const collector = new RoundCollector(1, new Set(['a', 'b', 'c', 'd', 'e']), 60_000);
    const out = await runner.runSecureRound(
      stubRound({ error: new FedtuneError('quorum_not_met', 'too few shared keys'), reported: ['a', 'b', 'c', 'd'], silentIn: [['b', 'share'], ['c', 'mask'], ['e', 'advertise']] }),
      ['a', 'b', 'c', 'd', 'e'],
      collector,
    );
    expect(out).toEqual({ failure: 'too few shared keys', silent: ['b', 'c', 'e'] });
    expect(collector.failed).toEqual([
      { siteId: 'b', reason: 'no secure-aggregation message in the share phase before its deadline (after advertising its keys)' },
      { siteId: 'c', reason: 'no secure-aggregation message in the mask phase before its deadline (after advertising its keys)' },
      { siteId: 'e', reason: 'no secure-aggregation message before the phase deadline' },
    ]);
  });

  it('shares that do not recombine: the attempt fails; unusable dealers are named and left out of the next attempts', async () => {
    const { runner } = fakeRun({});
    const plain = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    expect(await runner.runSecureRound(stubRound({ error: new FedtuneError('malformed_payload', 'shares off their polynomial'), reported: ['a', 'b', 'c'] }), ['a', 'b', 'c'], plain)).toEqual({ failure: 'shares off their polynomial', silent: [] });
    expect(plain.failed).toEqual([]);
    const collector = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    const out = await runner.runSecureRound(stubRound({ error: new SecAggUnrecoverableError('b dealt unusable shares', ['b']), reported: ['a', 'b'] }), ['a', 'b', 'c'], collector);
    expect(out).toEqual({ failure: 'b dealt unusable shares', unrecoverable: ['b'], silent: ['c'] });
    expect(collector.failed).toEqual([
      { siteId: 'c', reason: 'no secure-aggregation message before the phase deadline' },
      { siteId: 'b', reason: UNRECOVERABLE_REASON },
    ]);
    expect(collector.closed).toBe(true);
  });

  it('any other error is the run\'s: thrown, with the collector finished and the secure round cleared', async () => {
    const { runner, ctx } = fakeRun({});
    for (const error of [new FedtuneError('internal', 'a bug'), new Error('plain'), new FedtuneError('stale_round', 'stale')]) {
      const collector = new RoundCollector(1, new Set(['a']), 60_000);
      await expect(runner.runSecureRound(stubRound({ error }), ['a'], collector)).rejects.toBe(error);
      expect(collector.closed).toBe(true);
      expect(collector.failed).toEqual([]);
      expect(ctx.secureRound).toBeUndefined();
    }
  });
});

describe('the reason given for an unrecoverable dealer', () => {
  it('says what happened and what follows', () => {
    expect(UNRECOVERABLE_REASON).toBe("its secure-aggregation masks could not be removed from the shares it dealt (unusable or off its commitments): left out of the round's next attempts");
  });
});
