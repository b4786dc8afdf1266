import { describe, expect, it } from 'vitest';
import { distributedFixedPoint, fixedPointConfig, secAggPayloadBytes, SecAggParticipant, siteNoiseVariance, type SecureAggInstruction } from '@fedtune/shared';
import { nodeSecAggPrimitives } from '@fedtune/shared/node';
import { secAggInstruction, secAggThreshold, SecureAggregationConfig, SecureAggregationRound, type SecAggClientEvent } from '../../coordinator/src/engine/secure-aggregation-round.ts';
import { thrown } from '../helpers/thrown.ts';

/**
 * The coordinator's side of one secure-aggregation round attempt (secure-aggregation-round.ts), driven in process
 * with real site participants (SecAggParticipant) answering its messages: the threshold and instruction, what it
 * sends in each phase, the sum of exactly the survivors, dropouts in each phase, and the messages it refuses
 * (another run, round or attempt; the wrong phase; a count past the cap or the hello).
 */

const RUN = 'secure-run';
const ROUND = 3;
const LENGTHS = [3, 2];
const SITES = ['site-a', 'site-b', 'site-c'];
/** Each site's update (a clipped delta: norm < 1) and example count. */
const UPDATES: Record<string, number[]> = {
  'site-a': [0.5, -0.25, 0.125, 0, 0.375],
  'site-b': [-0.5, 0.25, 0.25, 0.5, 0],
  'site-c': [0.125, 0.125, -0.125, -0.25, 0.25],
};
const EXAMPLES: Record<string, number> = { 'site-a': 10, 'site-b': 30, 'site-c': 60 };
const DENOMINATOR = 100;

type Phase = 'advertise' | 'share' | 'mask' | 'unmask';
interface Sent {
  siteId: string;
  event: string;
  payload: Record<string, unknown>;
}

interface Setup {
  round: SecureAggregationRound;
  instruction: SecureAggInstruction;
  sent: Sent[];
  received: Array<{ siteId: string; event: SecAggClientEvent; payload: unknown }>;
  participants: Map<string, SecAggParticipant>;
  advertisement(siteId: string, numExamples?: number): Record<string, unknown>;
  /** Starts the round; every site that is not silent from a phase on answers each message, and advertises at once. */
  run(): Promise<Awaited<ReturnType<SecureAggregationRound['run']>>>;
}

function setup(o: { sites?: string[]; threshold?: number; silentFrom?: Record<string, Phase>; disconnected?: string[]; firstPhaseTimeoutMs?: number; phaseTimeoutMs?: number; maxExamples?: number; announced?: Record<string, number>; attempt?: number } = {}): Setup {
  const sites = o.sites ?? SITES;
  const config: SecureAggregationConfig = { clip: 1, ...(o.threshold ? { threshold: o.threshold } : {}) };
  const instruction = secAggInstruction(o.attempt ?? 1, sites, secAggThreshold(sites.length, config)!, 5, config, DENOMINATOR);
  const sent: Sent[] = [];
  const received: Setup['received'] = [];
  const participants = new Map(
    sites.map((id) => [id, new SecAggParticipant(RUN, ROUND, instruction, id, { update: [Float32Array.from(UPDATES[id].slice(0, 3)), Float32Array.from(UPDATES[id].slice(3))], weight: EXAMPLES[id] / DENOMINATOR }, nodeSecAggPrimitives)]),
  );
  const silent = (id: string, phase: Phase) => {
    const from = o.silentFrom?.[id];
    const order: Phase[] = ['advertise', 'share', 'mask', 'unmask'];
    return from !== undefined && order.indexOf(phase) >= order.indexOf(from);
  };
  const deliver = <K extends SecAggClientEvent>(siteId: string, event: K, payload: unknown) => {
    received.push({ siteId, event, payload });
    round.receive(siteId, event, payload as never);
  };
  const round = new SecureAggregationRound({
    runId: RUN,
    round: ROUND,
    instruction,
    lengths: LENGTHS,
    firstPhaseTimeoutMs: o.firstPhaseTimeoutMs ?? 60_000,
    phaseTimeoutMs: o.phaseTimeoutMs ?? 60_000,
    maxExamples: o.maxExamples ?? 1_000,
    announced: (id) => o.announced?.[id],
    send: (siteId, event, payload) => {
      if (o.disconnected?.includes(siteId)) return false;
      sent.push({ siteId, event, payload: payload as Record<string, unknown> });
      const p = participants.get(siteId)!;
      setImmediate(() => {
        if (event === 'secaggKeys' && !silent(siteId, 'share')) deliver(siteId, 'secaggShareKeys', p.shareKeys(payload as never));
        if (event === 'secaggShares' && !silent(siteId, 'mask')) deliver(siteId, 'secaggMasked', p.maskInput(payload as never));
        if (event === 'secaggUnmask' && !silent(siteId, 'unmask')) deliver(siteId, 'secaggUnmaskResponse', p.unmask(payload as never));
      });
      return true;
    },
  });
  // A participant advertises once: every advertisement of a site is that one, with the count it is given.
  const adverts = new Map<string, Record<string, unknown>>();
  const advertisement = (siteId: string, numExamples = EXAMPLES[siteId]) => {
    if (!adverts.has(siteId)) adverts.set(siteId, participants.get(siteId)!.advertise({ numExamples: 0, metrics: { loss: 0.5, accuracy: 0.75 }, durationMs: 12 }) as unknown as Record<string, unknown>);
    return { ...adverts.get(siteId)!, numExamples };
  };
  return {
    round,
    instruction,
    sent,
    received,
    participants,
    advertisement,
    run: () => {
      const result = round.run();
      for (const id of sites) if (!silent(id, 'advertise')) deliver(id, 'secaggAdvertise', advertisement(id));
      return result;
    },
  };
}

/** Σ w·x over `ids` (w = examples / denominator), and Σ w. */
function expectedSum(ids: string[]): { sum: number[]; weight: number } {
  const sum = [0, 0, 0, 0, 0];
  let weight = 0;
  for (const id of ids) {
    const w = EXAMPLES[id] / DENOMINATOR;
    weight += w;
    UPDATES[id].forEach((v, i) => (sum[i] += w * v));
  }
  return { sum, weight };
}

function expectSum(result: { weightedSum: Float32Array[]; totalWeight: number; mean: Float32Array[] }, ids: string[]): void {
  const { sum, weight } = expectedSum(ids);
  const flat = result.weightedSum.flatMap((a) => [...a]);
  expect(result.weightedSum.map((a) => a.length)).toEqual(LENGTHS);
  flat.forEach((v, i) => expect(v).toBeCloseTo(sum[i], 6));
  expect(result.totalWeight).toBeCloseTo(weight, 8);
  result.mean.flatMap((a) => [...a]).forEach((v, i) => expect(v).toBeCloseTo(sum[i] / weight, 5));
}

describe('secAggThreshold: a strict majority of a neighbourhood, at least the configured t', () => {
  it.each([
    [2, {}, 2],
    [3, {}, 2],
    [4, {}, 3],
    [5, {}, 3],
    [1, {}, undefined],
    [0, {}, undefined],
    [5, { threshold: 4 }, 4],
    [5, { threshold: 5 }, 5],
    [5, { threshold: 6 }, undefined],
    [4, { threshold: 2 }, 3],
    // SecAgg+: a neighbourhood of k + 1 sites when k < n − 1, else everyone.
    [10, { neighbours: 4 }, 3],
    [10, { neighbours: 4, threshold: 5 }, 5],
    [10, { neighbours: 4, threshold: 6 }, undefined],
    [5, { neighbours: 4 }, 3],
    [6, { neighbours: 4 }, 3],
    [5, { neighbours: 6 }, 3],
    [6, { neighbours: 4, threshold: 5 }, 5],
    [6, { neighbours: 4, threshold: 6 }, undefined],
    [5, { neighbours: 4, threshold: 5 }, 5],
  ] as Array<[number, Partial<SecureAggregationConfig>, number | undefined]>)('n = %i, %j: %s', (n, config, t) => {
    expect(secAggThreshold(n, { clip: 1, ...config })).toBe(t);
  });
});

describe('secAggInstruction', () => {
  it('sorts the sites, takes the range (default the clip) and weights by examples unless told', () => {
    const sites = ['site-c', 'site-a', 'site-b'];
    const i = secAggInstruction(2, sites, 2, 7, { clip: 0.5, neighbours: 2 }, 90);
    expect(i).toEqual({ attempt: 2, sites: ['site-a', 'site-b', 'site-c'], threshold: 2, neighbours: 2, vectorLength: 7, fixedPoint: fixedPointConfig({ range: 0.5, maxTotalWeight: 1, sites: 3 }), clip: 0.5, weighting: 'examples', weightDenominator: 90 });
    expect(sites).toEqual(['site-c', 'site-a', 'site-b']);
    expect(secAggInstruction(1, sites, 2, 7, { clip: 0.5, range: 3 }, 90).fixedPoint).toEqual(fixedPointConfig({ range: 3, maxTotalWeight: 1, sites: 3 }));
    expect(secAggInstruction(1, sites, 2, 7, { clip: 0.5 }, 3, 'uniform')).not.toHaveProperty('distributedNoise');
    expect(secAggInstruction(1, sites, 2, 7, { clip: 0.5 }, 3, 'uniform').weighting).toBe('uniform');
  });

  it('with distributed noise: a scale with room for it and the variance each site adds', () => {
    const i = secAggInstruction(1, ['b', 'a', 'c', 'd'], 3, 11, { clip: 2, range: 1.5 }, 4, 'uniform', { noiseMultiplier: 0.8 });
    const params = { noiseMultiplier: 0.8, clip: 2, threshold: 3, weight: 1 / 4 };
    const fixedPoint = distributedFixedPoint({ range: 1.5, maxTotalWeight: 1, sites: 4, vectorLength: 11, ...params });
    expect(i.fixedPoint).toEqual(fixedPoint);
    expect(i.fixedPoint.scale).toBeLessThan(fixedPointConfig({ range: 1.5, maxTotalWeight: 1, sites: 4 }).scale);
    expect(i.distributedNoise).toEqual({ mechanism: 'discrete-gaussian', noiseMultiplier: 0.8, variance: siteNoiseVariance(params, fixedPoint.scale) });
    expect(i.weighting).toBe('uniform');
    expect(i.weightDenominator).toBe(4);
    expect(i.clip).toBe(2);
  });
});

describe('SecureAggregationRound: every site answers', () => {
  it('sends each phase to the sites of the last, sums exactly the three inputs and keeps their reports; counts the bytes both ways', async () => {
    const s = setup();
    const started = Date.now();
    const result = await s.run();
    // No phase waited for a deadline (each is a minute).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.survivors).toEqual(SITES);
    expect(result.dropped).toEqual([]);
    expect(result.round).toBe(ROUND);
    expectSum(result, SITES);
    expect([...result.reports.entries()]).toEqual(SITES.map((id) => [id, { siteId: id, numExamples: EXAMPLES[id], metrics: { loss: 0.5, accuracy: 0.75 }, durationMs: 12 }]));
    expect(result.reports).toBe(s.round.reports);
    const ids = { runId: RUN, round: ROUND, attempt: 1 };
    // Phase by phase, to every site, with the run, round and attempt.
    expect(s.sent.map((m) => `${m.event} ${m.siteId}`)).toEqual([...SITES.map((id) => `secaggKeys ${id}`), ...SITES.map((id) => `secaggShares ${id}`), ...SITES.map((id) => `secaggUnmask ${id}`)]);
    for (const m of s.sent) expect(m.payload).toMatchObject(ids);
    const keys = s.sent[0].payload.keys as Array<{ siteId: string }>;
    expect(keys.map((k) => k.siteId)).toEqual(SITES);
    for (const m of s.sent.slice(0, 3)) expect(m.payload).toEqual({ ...ids, keys });
    for (const m of s.sent.slice(3, 6)) expect(Object.keys(m.payload).sort()).toEqual(['attempt', 'participants', 'round', 'runId', 'shares']);
    for (const m of s.sent.slice(6)) expect(m.payload).toEqual({ ...ids, survivors: SITES });
    expect(result.bytesUp).toBe(s.received.reduce((n, m) => n + secAggPayloadBytes(m.payload), 0));
    expect(result.bytesDown).toBe(s.sent.reduce((n, m) => n + secAggPayloadBytes(m.payload), 0));
    expect(s.round.bytesUp).toBe(result.bytesUp);
    expect(s.round.bytesDown).toBe(result.bytesDown);
    expect(result.bytesUp).toBeGreaterThan(0);
  });

  it('a message of another run, round or attempt is refused stale, not counted, and the round still waits for the real one', async () => {
    const s = setup({ attempt: 2 });
    const p = s.round.run();
    const ad = s.advertisement('site-a');
    for (const [field, value, named] of [
      ['runId', 'other-run', `round ${ROUND} attempt 2`],
      ['round', ROUND + 1, `round ${ROUND + 1} attempt 2`],
      ['round', ROUND - 1, `round ${ROUND - 1} attempt 2`],
      ['attempt', 1, `round ${ROUND} attempt 1`],
      ['attempt', 3, `round ${ROUND} attempt 3`],
    ] as const) {
      const e = thrown(() => s.round.receive('site-a', 'secaggAdvertise', { ...ad, [field]: value } as never));
      expect({ code: e.code, message: e.message }).toEqual({ code: 'stale_round', message: `secure aggregation message for ${named}; this is round ${ROUND} attempt 2` });
    }
    expect(s.round.bytesUp).toBe(0);
    expect(s.round.reports.size).toBe(0);
    for (const id of SITES) s.round.receive(id, 'secaggAdvertise', s.advertisement(id) as never);
    const result = await p;
    expect(result.survivors).toEqual(SITES);
    expect(s.sent[0].payload).toMatchObject({ attempt: 2 });
  });

  it('a message of the wrong phase is refused stale, naming it, the site and the phase, and takes nothing', async () => {
    const s = setup({ silentFrom: { 'site-c': 'share' }, phaseTimeoutMs: 300 });
    const masked = { runId: RUN, round: ROUND, attempt: 1, siteId: 'site-a', masked: new Uint8Array(24) };
    const p = s.run();
    expect(thrown(() => s.round.receive('site-b', 'secaggMasked', masked as never))).toMatchObject({ code: 'stale_round', message: 'secaggMasked from site-b arrived in phase advertise' });
    // The keys went out: the round waits for the share phase (site-c never shares).
    await new Promise((r) => setTimeout(r, 50));
    expect(s.sent.filter((m) => m.event === 'secaggKeys')).toHaveLength(3);
    const late = s.advertisement('site-c');
    expect(thrown(() => s.round.receive('site-c', 'secaggAdvertise', late as never))).toMatchObject({ code: 'stale_round', message: 'secaggAdvertise from site-c arrived in phase share' });
    expect(thrown(() => s.round.receive('site-c', 'secaggUnmaskResponse', { runId: RUN, round: ROUND, attempt: 1, siteId: 'site-c', selfMaskShares: [], maskingKeyShares: [] } as never))).toMatchObject({ code: 'stale_round', message: 'secaggUnmaskResponse from site-c arrived in phase share' });
    const up = s.round.bytesUp;
    expect(up).toBe(s.received.reduce((n, m) => n + secAggPayloadBytes(m.payload), 0));
    const result = await p;
    // site-c advertised but shared no keys: not a survivor, not dropped (it dealt no shares), its report kept.
    expect(result.survivors).toEqual(['site-a', 'site-b']);
    expect(result.dropped).toEqual([]);
    expectSum(result, ['site-a', 'site-b']);
    expect([...result.reports.keys()]).toEqual(SITES);
    // After the phase, site-c is not sent the shares nor the unmask request.
    expect(s.sent.filter((m) => m.siteId === 'site-c').map((m) => m.event)).toEqual(['secaggKeys']);
  });

  it('an advertisement claiming more examples than the cap or the hello is refused with its own code, before its report is kept', async () => {
    const s = setup({ maxExamples: 50, announced: { 'site-b': 20, 'site-c': 60 }, firstPhaseTimeoutMs: 60_000 });
    const p = s.round.run();
    expect(thrown(() => s.round.receive('site-b', 'secaggAdvertise', s.advertisement('site-b', 21) as never))).toMatchObject({ code: 'invalid_count', message: 'site site-b claims more examples than the 20 it announced at hello' });
    expect(thrown(() => s.round.receive('site-c', 'secaggAdvertise', s.advertisement('site-c', 51) as never))).toMatchObject({ code: 'invalid_count', message: 'number of examples must be an integer in 1..50' });
    expect(thrown(() => s.round.receive('site-c', 'secaggAdvertise', s.advertisement('site-c', 0) as never))).toMatchObject({ code: 'invalid_count' });
    expect(s.round.reports.size).toBe(0);
    s.round.receive('site-a', 'secaggAdvertise', s.advertisement('site-a', 10) as never);
    s.round.receive('site-b', 'secaggAdvertise', s.advertisement('site-b', 20) as never);
    // What the router does with a refused site: it is dropped, and no phase waits for it.
    s.round.drop('site-c');
    const started = Date.now();
    const result = await p;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.survivors).toEqual(['site-a', 'site-b']);
    expect([...result.reports.keys()]).toEqual(['site-a', 'site-b']);
    expect(result.reports.get('site-b')!.numExamples).toBe(20);
    expect(s.sent.some((m) => m.siteId === 'site-c')).toBe(false);
  });

  it('a second advertisement from a site is refused by the protocol as a duplicate and its report is the first', async () => {
    const s = setup();
    const p = s.round.run();
    s.round.receive('site-a', 'secaggAdvertise', s.advertisement('site-a') as never);
    const again = s.advertisement('site-a', 5);
    expect(thrown(() => s.round.receive('site-a', 'secaggAdvertise', again as never)).code).toBe('duplicate_result');
    expect(s.round.reports.get('site-a')!.numExamples).toBe(10);
    s.round.drop('site-a');
    s.round.receive('site-b', 'secaggAdvertise', s.advertisement('site-b') as never);
    s.round.receive('site-c', 'secaggAdvertise', s.advertisement('site-c') as never);
    const result = await p;
    expect(result.survivors).toEqual(['site-b', 'site-c']);
    expectSum(result, ['site-b', 'site-c']);
  });
});

describe('SecureAggregationRound: dropouts and the threshold', () => {
  it('a site silent in the first phase is left out at its deadline; the rest are summed', async () => {
    const s = setup({ silentFrom: { 'site-b': 'advertise' }, firstPhaseTimeoutMs: 100 });
    const result = await s.run();
    expect(result.survivors).toEqual(['site-a', 'site-c']);
    expect(result.dropped).toEqual([]);
    expectSum(result, ['site-a', 'site-c']);
    expect(s.sent.filter((m) => m.siteId === 'site-b')).toEqual([]);
    expect([...result.reports.keys()]).toEqual(['site-a', 'site-c']);
    // Silent in the first phase, and only there (it is waited for in no later phase).
    expect([...s.round.silentIn]).toEqual([['site-b', 'advertise']]);
  });

  it('a site that shared its keys and then went silent is dropped: its masks are removed and its input is not in the sum', async () => {
    const s = setup({ silentFrom: { 'site-c': 'mask' }, phaseTimeoutMs: 100 });
    const result = await s.run();
    expect(result.survivors).toEqual(['site-a', 'site-b']);
    expect(result.dropped).toEqual(['site-c']);
    expect([...s.round.silentIn]).toEqual([['site-c', 'mask']]);
    expectSum(result, ['site-a', 'site-b']);
    expect(s.sent.filter((m) => m.event === 'secaggUnmask').map((m) => [m.siteId, m.payload.survivors])).toEqual([
      ['site-a', ['site-a', 'site-b']],
      ['site-b', ['site-a', 'site-b']],
    ]);
  });

  it('a survivor silent in unmasking is still in the sum (the others hold enough shares)', async () => {
    const s = setup({ silentFrom: { 'site-a': 'unmask' }, phaseTimeoutMs: 100 });
    const result = await s.run();
    expect(result.survivors).toEqual(SITES);
    expect([...s.round.silentIn]).toEqual([['site-a', 'unmask']]);
    expect(result.silentInUnmasking).toEqual(['site-a']);
    expectSum(result, SITES);
  });

  it('fewer sites than the threshold: the round throws quorum_not_met, never a sum', async () => {
    const s = setup({ threshold: 3, silentFrom: { 'site-b': 'advertise' }, firstPhaseTimeoutMs: 50 });
    const e = await s.run().then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    );
    expect(e?.code).toBe('quorum_not_met');
    expect(e?.message).toMatch(/2 sites advertised keys, threshold 3/);
    const late = setup({ threshold: 3, silentFrom: { 'site-b': 'mask' }, phaseTimeoutMs: 50 });
    await expect(late.run()).rejects.toMatchObject({ code: 'quorum_not_met' });
  });

  it('a site dropped (left, failed or refused) is not waited for, and is sent nothing more', async () => {
    const s = setup({ silentFrom: { 'site-b': 'mask' } });
    const p = s.run();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.sent.filter((m) => m.event === 'secaggShares')).toHaveLength(3);
    const started = Date.now();
    s.round.drop('site-b');
    const result = await p;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.survivors).toEqual(['site-a', 'site-c']);
    expect(result.dropped).toEqual(['site-b']);
    expectSum(result, ['site-a', 'site-c']);
    expect(s.sent.filter((m) => m.siteId === 'site-b').map((m) => m.event)).toEqual(['secaggKeys', 'secaggShares']);
  });

  it('a site that can no longer be sent to is dropped at once, and its bytes are not counted', async () => {
    const s = setup({ disconnected: ['site-b'] });
    const started = Date.now();
    const result = await s.run();
    expect(Date.now() - started).toBeLessThan(5_000);
    // It advertised (its keys are in the directory) but never got them: it shared none.
    expect(result.survivors).toEqual(['site-a', 'site-c']);
    expect(result.dropped).toEqual([]);
    expect(result.bytesDown).toBe(s.sent.reduce((n, m) => n + secAggPayloadBytes(m.payload), 0));
    expect(s.sent.some((m) => m.siteId === 'site-b')).toBe(false);
  });

  it('abort ends a waiting phase at once with quorum_not_met and the reason; after an abort a round does not wait', async () => {
    const s = setup({ silentFrom: { 'site-c': 'advertise' } });
    const p = s.run();
    const started = Date.now();
    s.round.abort('the engine is stopping');
    await expect(p).rejects.toMatchObject({ code: 'quorum_not_met', message: 'the engine is stopping' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(s.sent).toEqual([]);
    const early = setup();
    early.round.abort('stopped before');
    await expect(early.round.run()).rejects.toMatchObject({ code: 'quorum_not_met', message: 'stopped before' });
  });

  it('with every site dropped before it starts, the first phase does not wait and the threshold is not met', async () => {
    const s = setup();
    for (const id of SITES) s.round.drop(id);
    const started = Date.now();
    await expect(s.round.run()).rejects.toMatchObject({ code: 'quorum_not_met' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('SecureAggregationRound: a site out of the attempt', () => {
  it('a dropped site (refused, failed or gone) is refused if it sends anyway: its keys and report stay out, its bytes are not counted', async () => {
    const s = setup();
    const p = s.round.run();
    s.round.receive('site-a', 'secaggAdvertise', s.advertisement('site-a') as never);
    s.round.receive('site-b', 'secaggAdvertise', s.advertisement('site-b') as never);
    const up = s.round.bytesUp;
    s.round.drop('site-c');
    expect(thrown(() => s.round.receive('site-c', 'secaggAdvertise', s.advertisement('site-c') as never))).toMatchObject({ code: 'not_selected', message: 'site-c is out of this secure-aggregation attempt' });
    expect(s.round.bytesUp).toBe(up);
    expect([...s.round.reports.keys()]).toEqual(['site-a', 'site-b']);
    const result = await p;
    expect(result.survivors).toEqual(['site-a', 'site-b']);
    // Its keys were never in the directory the others got.
    expect((s.sent[0].payload.keys as Array<{ siteId: string }>).map((k) => k.siteId)).toEqual(['site-a', 'site-b']);
  });

  it('bytes up are those of the messages taken: a refused duplicate adds none', async () => {
    const s = setup();
    const p = s.round.run();
    const ad = s.advertisement('site-a');
    s.round.receive('site-a', 'secaggAdvertise', ad as never);
    expect(s.round.bytesUp).toBe(secAggPayloadBytes(ad));
    expect(thrown(() => s.round.receive('site-a', 'secaggAdvertise', ad as never)).code).toBe('duplicate_result');
    expect(thrown(() => s.round.receive('site-b', 'secaggAdvertise', s.advertisement('site-b', 100_000) as never)).code).toBe('invalid_count');
    expect(s.round.bytesUp).toBe(secAggPayloadBytes(ad));
    s.round.abort('done here');
    await expect(p).rejects.toMatchObject({ code: 'quorum_not_met' });
  });
});

describe('SecureAggregationConfig and the end of a round', () => {
  it('a threshold of at least 2, an even neighbourhood of at least 2, a phase deadline of at least 1 ms', () => {
    const ok = (c: Record<string, unknown>) => SecureAggregationConfig.safeParse({ clip: 1, ...c }).success;
    expect(ok({ threshold: 2, neighbours: 2, phaseTimeoutMs: 1 })).toBe(true);
    expect(ok({ threshold: 1 })).toBe(false);
    expect(ok({ neighbours: 4 })).toBe(true);
    expect(ok({ neighbours: 0 })).toBe(false);
    expect(ok({ phaseTimeoutMs: 0 })).toBe(false);
    const odd = SecureAggregationConfig.safeParse({ clip: 1, neighbours: 3 });
    expect(odd.success).toBe(false);
    expect(odd.error!.issues.map((i) => i.message)).toEqual(['neighbours must be even']);
  });

  it('a neighbourhood as large as the sites is all of them: a threshold past them cannot be met', () => {
    expect(secAggThreshold(4, { clip: 1, neighbours: 4, threshold: 5 })).toBeUndefined();
    expect(secAggThreshold(4, { clip: 1, neighbours: 4, threshold: 4 })).toBe(4);
  });

  it('a message after the round ended is refused, naming the phase done', async () => {
    const s = setup();
    await s.run();
    const late = { runId: RUN, round: ROUND, attempt: 1, siteId: 'site-a', selfMaskShares: [], maskingKeyShares: [] };
    expect(thrown(() => s.round.receive('site-a', 'secaggUnmaskResponse', late as never))).toMatchObject({ code: 'stale_round', message: 'secaggUnmaskResponse from site-a arrived in phase done' });
  });
});
