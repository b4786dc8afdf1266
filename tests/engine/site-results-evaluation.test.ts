import { describe, expect, it, vi } from 'vitest';
import { decodeWeights, FedtuneError, fitTemperature, temperatureStats, type SiteEvaluation } from '@fedtune/shared';
import { EvaluationCollector, evaluationWeights } from '../../coordinator/src/engine/evaluation-collector.ts';
import { FEDERATED_CALIBRATION_BUDGET, FederatedEvaluation } from '../../coordinator/src/engine/federated-evaluation.ts';
import { fitFederatedTemperature, type CalibrationAnswer } from '../../coordinator/src/engine/federated-calibration.ts';
import { ModelVersions } from '../../coordinator/src/engine/model-versions.ts';
import { RunConfig } from '../../coordinator/src/engine/run-config.ts';
import { UnresponsiveSites } from '../../coordinator/src/engine/unresponsive-sites.ts';
import { mulberry32 } from '../helpers/mulberry32.ts';

/**
 * What the coordinator makes of the sites' evaluation answers (evaluation-collector.ts, federated-evaluation.ts):
 * which answers count (asked sites, once each), the example-weighted federated accuracy with one site's count held
 * to the cap, the worst site and the spread, the seeded sample of sites asked, the sites that gave no answer, and
 * the federated temperature fit. FederatedEvaluation runs over a stand-in run context whose sites answer as told.
 */

const RUN = 'evaluation-run';
const MANIFEST = [{ name: 'w', shape: [2, 2], dtype: 'float32' as const }, { name: 'b', shape: [2], dtype: 'float32' as const }];
const GLOBAL = [new Float32Array([0.5, -1, 2, 0.25]), new Float32Array([3, -4])];

/** What the seeded evaluation sample of 3 of s0..s9 is for seed 7, round 1. */
const PINNED = ['s0', 's4', 's5'];
const ev = (siteId: string, accuracy: number, numExamples: number, loss = 0.5): SiteEvaluation => ({ siteId, accuracy, loss, numExamples });

describe('evaluationWeights: each site\'s reported count, capped at cap × the lower median of the positive counts', () => {
  it('holds a claim past the cap to it, decided on all answers, not their order', () => {
    const sites = [ev('a', 0.5, 10), ev('b', 0.5, 30), ev('c', 0.5, 1_000), ev('d', 0.5, 20)];
    // Positive counts 10, 20, 30, 1000: lower median 20, cap 4 → at most 80.
    expect([...evaluationWeights(sites, 4)]).toEqual([['a', 10], ['b', 30], ['c', 80], ['d', 20]]);
    expect([...evaluationWeights([...sites].reverse(), 4)]).toEqual([['d', 20], ['c', 80], ['b', 30], ['a', 10]]);
    // Exactly at the cap: kept.
    expect(evaluationWeights([ev('a', 1, 10), ev('b', 1, 40)], 4).get('b')).toBe(40);
    expect(evaluationWeights([ev('a', 1, 10), ev('b', 1, 41)], 4).get('b')).toBe(40);
  });

  it('cap 0 holds nothing; a site with no examples neither counts in the median nor weighs', () => {
    const sites = [ev('a', 0.5, 0), ev('b', 0.5, 0), ev('c', 0.5, 0), ev('d', 0.5, 5), ev('e', 0.5, 1_000_000)];
    expect([...evaluationWeights(sites, 0)]).toEqual([['a', 0], ['b', 0], ['c', 0], ['d', 5], ['e', 1_000_000]]);
    // Lower median of 5 and 1e6 (the zeros left out): 5, so at most 2 × 5.
    expect(evaluationWeights(sites, 2).get('e')).toBe(10);
    expect(evaluationWeights(sites, 2).get('a')).toBe(0);
    // Only zeros: no median, nothing held.
    expect([...evaluationWeights([ev('a', 0.5, 0)], 4)]).toEqual([['a', 0]]);
    expect(evaluationWeights([], 4).size).toBe(0);
  });
});

describe('evaluationWeights with the holdout size as a median member (the reference), never a weight', () => {
  it('two sites: one claiming a tiny split no longer shrinks the other to cap × its count', () => {
    const sites = [ev('honest', 0.88, 226), ev('tiny', 0, 1)];
    expect([...evaluationWeights(sites, 4)]).toEqual([['honest', 4], ['tiny', 1]]);
    // Members 1, 226, 1500: lower median 226, at most 904.
    expect([...evaluationWeights(sites, 4, 1500)]).toEqual([['honest', 226], ['tiny', 1]]);
    // A huge claim is still held: members 226, 1500, 1e9 → 1500, at most 6000.
    expect([...evaluationWeights([ev('honest', 0.88, 226), ev('huge', 0, 1e9)], 4, 1500)]).toEqual([['honest', 226], ['huge', 6000]]);
    // A reference of 0 is no member; cap 0 holds nothing.
    expect([...evaluationWeights(sites, 4, 0)]).toEqual([['honest', 4], ['tiny', 1]]);
    expect([...evaluationWeights(sites, 0, 1500)]).toEqual([['honest', 226], ['tiny', 1]]);
  });
});

describe('EvaluationCollector', () => {
  it('takes one answer per asked site; an answer from a site not asked or a second answer is ignored; done when all answered', async () => {
    const c = new EvaluationCollector(4, ['a', 'b'], 60_000);
    expect(c.round).toBe(4);
    expect(c.expects('a')).toBe(true);
    expect(c.expects('z')).toBe(false);
    c.add(ev('z', 1, 100));
    c.add(ev('a', 0.25, 10), { betas: [1], count: 10, stats: [{ nll: 1, grad: 0, hess: 1 }] });
    c.add(ev('a', 0.99, 99), { betas: [1], count: 99, stats: [{ nll: 2, grad: 0, hess: 1 }] });
    expect(c.expects('a')).toBe(false);
    expect([...c.results.values()]).toEqual([ev('a', 0.25, 10)]);
    expect([...c.calibration]).toEqual([['a', { betas: [1], count: 10, stats: [{ nll: 1, grad: 0, hess: 1 }] }]]);
    expect(c.silent).toEqual(['b']);
    let done = false;
    void c.done.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    // An answer without calibration sums keeps none.
    c.add(ev('b', 0.75, 30));
    await c.done;
    expect(c.silent).toEqual([]);
    expect(c.calibration.has('b')).toBe(false);
    expect([...c.results.keys()]).toEqual(['a', 'b']);
  });

  it('a dropped site is no longer waited for and its later answer is ignored; dropping an unasked site changes nothing', async () => {
    const c = new EvaluationCollector(1, ['a', 'b'], 60_000);
    c.drop('z');
    c.drop('a');
    expect(c.silent).toEqual(['b']);
    c.add(ev('a', 1, 5));
    expect(c.results.size).toBe(0);
    let done = false;
    void c.done.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    const started = Date.now();
    c.drop('b');
    await c.done;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(c.silent).toEqual([]);
  });

  it('ends at its deadline with the silent sites listed; with no site asked it is done at once', async () => {
    const started = Date.now();
    const c = new EvaluationCollector(1, ['a', 'b', 'c'], 80);
    c.add(ev('b', 1, 5));
    await c.done;
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(c.silent).toEqual(['a', 'c']);
    const empty = new EvaluationCollector(1, [], 60_000);
    const t = Date.now();
    await empty.done;
    expect(Date.now() - t).toBeLessThan(1_000);
  });
});

interface FakeSite {
  siteId: string;
  heldModelVersion?: number;
  hasTopology?: boolean;
  link: { closed: boolean; send(event: string, payload: Record<string, unknown>): void };
}

type Answer = { accuracy: number; numExamples: number; loss?: number } | 'silent' | ((payload: Record<string, unknown>) => Parameters<EvaluationCollector['add']> | undefined);

/** A stand-in run context: its sites answer an evaluate instruction as `answers` says (at the next turn), through `ctx.evaluation` as the router does. */
function fakeRun(answers: Record<string, Answer>, config: Record<string, unknown> = {}, model: Record<string, unknown> = {}) {
  const sent: Array<{ siteId: string; event: string; payload: Record<string, unknown> }> = [];
  const sites = new Map<string, FakeSite>();
  const ctx: Record<string, any> = {
    config: { runId: RUN, seed: 7, roundTimeoutMs: 60_000, evaluationFraction: 1, maxEvaluationSites: 0, exampleWeightCap: 4, modelDelivery: 'socket', sitesKeepModel: true, calibration: { source: 'holdout' }, ...config },
    options: { model: { manifest: MANIFEST, initialWeights: GLOBAL, ...model } },
    globalWeights: GLOBAL,
    modelVersions: new ModelVersions(),
    unresponsive: new UnresponsiveSites(4),
    evaluation: undefined,
    topologySent: [] as string[],
    sites: { ids: () => [...sites.keys()].sort(), get: (id: string) => sites.get(id) },
    sendTopology(siteId: string) {
      const site = sites.get(siteId)!;
      if (site.hasTopology) return 0;
      site.hasTopology = true;
      ctx.topologySent.push(siteId);
      return 100;
    },
    weightsFor: (site: FakeSite, version: number, bytes: Uint8Array) => (ctx.config.sitesKeepModel && site.heldModelVersion === version ? undefined : bytes),
  };
  for (const [siteId, answer] of Object.entries(answers)) {
    const site: FakeSite = {
      siteId,
      link: {
        closed: false,
        send(event, payload) {
          sent.push({ siteId, event, payload });
          if (event !== 'evaluate' || answer === 'silent') return;
          setImmediate(() => {
            const evaluation = ctx.evaluation as EvaluationCollector | undefined;
            if (!evaluation) return;
            if (typeof answer === 'function') {
              const args = answer(payload);
              if (args) evaluation.add(...args);
            } else evaluation.add({ siteId, accuracy: answer.accuracy, loss: answer.loss ?? 0.5, numExamples: answer.numExamples });
          });
        },
      },
    };
    sites.set(siteId, site);
  }
  return { ctx, sent, sites, federated: new FederatedEvaluation(ctx as never) };
}

describe('FederatedEvaluation.federatedEvaluate: the example-weighted federated accuracy', () => {
  it('weighs each answer by its count (exactly), lists the sites in id order, and names the worst', async () => {
    const { federated, sent } = fakeRun({ 'site-b': { accuracy: 0.75, numExamples: 30 }, 'site-a': { accuracy: 0.5, numExamples: 10 }, 'site-c': { accuracy: 1, numExamples: 0 } });
    const { summary } = await federated.federatedEvaluate(2);
    // (0.5 × 10 + 0.75 × 30) / 40; a site with no test examples is left out of everything.
    expect(summary!.accuracy).toBe(0.6875);
    expect(summary!.sites).toEqual([ev('site-a', 0.5, 10), ev('site-b', 0.75, 30)]);
    expect(summary!.worstSite).toEqual({ siteId: 'site-a', accuracy: 0.5 });
    expect(summary!.mean).toBe(0.625);
    expect(summary!.p10).toBeCloseTo(0.525, 12);
    // Asked in id order, each with the round, its model version, the weights and no calibration.
    expect(sent.filter((m) => m.event === 'evaluate').map((m) => m.siteId)).toEqual(['site-a', 'site-b', 'site-c']);
    for (const m of sent) {
      expect(Object.keys(m.payload).sort()).toEqual(['modelVersion', 'round', 'runId', 'weights']);
      expect(m.payload).toMatchObject({ runId: RUN, round: 2, modelVersion: 2 });
      expect(decodeWeights(m.payload.weights as Uint8Array).arrays).toEqual(GLOBAL);
    }
  });

  it('one site claiming a huge test split is held to exampleWeightCap × the median', async () => {
    const { federated } = fakeRun({ a: { accuracy: 0.25, numExamples: 10 }, b: { accuracy: 0.75, numExamples: 10 }, c: { accuracy: 1, numExamples: 1_000_000 } });
    const { summary } = await federated.federatedEvaluate(1);
    // c weighs 4 × 10: (2.5 + 7.5 + 40) / 60.
    expect(summary!.accuracy).toBeCloseTo(50 / 60, 14);
    expect(summary!.sites.map((s) => s.numExamples)).toEqual([10, 10, 1_000_000]);
    const uncapped = fakeRun({ a: { accuracy: 0.25, numExamples: 10 }, b: { accuracy: 0.75, numExamples: 10 }, c: { accuracy: 1, numExamples: 1_000_000 } }, { exampleWeightCap: 0 });
    expect((await uncapped.federated.federatedEvaluate(1)).summary!.accuracy).toBeCloseTo((2.5 + 7.5 + 1_000_000) / 1_000_020, 14);
  });

  it('the model\'s holdout size is a member of the count median: a site claiming one test example cannot shrink the other', async () => {
    const answers = { honest: { accuracy: 0.88, numExamples: 226 }, tiny: { accuracy: 0, numExamples: 1 } };
    expect((await fakeRun(answers).federated.federatedEvaluate(1)).summary!.accuracy).toBeCloseTo((0.88 * 4) / 5, 14);
    expect((await fakeRun(answers, {}, { holdoutSize: 1500 }).federated.federatedEvaluate(1)).summary!.accuracy).toBeCloseTo((0.88 * 226) / 227, 14);
  });

  it('ties for the worst site go to the first in id order; with no usable answer there is no summary (the bytes sent are still counted)', async () => {
    const { federated } = fakeRun({ b: { accuracy: 0.25, numExamples: 5 }, a: { accuracy: 0.25, numExamples: 5 }, c: { accuracy: 0.5, numExamples: 5 } });
    const { summary } = await federated.federatedEvaluate(1);
    expect(summary!.worstSite).toEqual({ siteId: 'a', accuracy: 0.25 });
    expect(summary!.accuracy).toBeCloseTo(1 / 3, 14);
    // An average of nothing is no number: before, NaN (null in report.json) made the report unreadable to report.html.
    const none = fakeRun({ a: { accuracy: 0.5, numExamples: 0 } });
    const empty = await none.federated.federatedEvaluate(1);
    expect(empty.summary).toBeUndefined();
    expect(empty.bytesDown).toBeGreaterThan(0);
  });

  it('a site whose first answer came is not counted again, whatever it sends after; the answer of a site not asked counts for nothing', async () => {
    const { federated, ctx } = fakeRun({
      a: () => {
        const c = ctx.evaluation as EvaluationCollector;
        c.add(ev('a', 0.5, 10));
        c.add(ev('a', 0, 1_000));
        // The answer of a site that was not asked (not joined here).
        c.add(ev('zz', 0, 1_000));
        return undefined;
      },
      b: { accuracy: 1, numExamples: 10 },
    });
    const { summary } = await federated.federatedEvaluate(3);
    expect(summary!.sites).toEqual([ev('a', 0.5, 10), ev('b', 1, 10)]);
    expect(summary!.accuracy).toBe(0.75);
  });

  it('counts the bytes sent: the topology once per site and the weights of each', async () => {
    const { federated, ctx } = fakeRun({ a: { accuracy: 1, numExamples: 1 }, b: { accuracy: 1, numExamples: 1 } });
    const weights = 4 * 6;
    const { bytesDown } = await federated.federatedEvaluate(1);
    expect(ctx.topologySent).toEqual(['a', 'b']);
    // The encoded weights are the floats plus a header: at least 2 × 24 bytes beyond the two topologies.
    expect(bytesDown).toBeGreaterThan(200 + 2 * weights);
    const held = fakeRun({ a: { accuracy: 1, numExamples: 1 }, b: { accuracy: 1, numExamples: 1 } });
    for (const s of held.sites.values()) s.heldModelVersion = 1;
    // Sites that hold the version get no weights: only the topologies count.
    expect((await held.federated.federatedEvaluate(1)).bytesDown).toBe(200);
    for (const m of held.sent) expect(m.payload).not.toHaveProperty('weights');
  });

  it('without sitesKeepModel the sites are told to drop the model; a closed site is not asked and not waited for', async () => {
    const { federated, sent, sites } = fakeRun({ a: { accuracy: 0.5, numExamples: 4 }, b: 'silent' }, { sitesKeepModel: false });
    sites.get('b')!.link.closed = true;
    const started = Date.now();
    const { summary } = await federated.federatedEvaluate(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sent.map((m) => m.siteId)).toEqual(['a']);
    expect(sent[0].payload.dropModel).toBe(true);
    expect(summary!.sites).toEqual([ev('a', 0.5, 4)]);
  });

  it('a site that gave no answer by the deadline is on record as unresponsive and sits out the next samples; the others are not', async () => {
    const { federated, ctx, sent } = fakeRun({ a: { accuracy: 0.5, numExamples: 4 }, b: 'silent', c: { accuracy: 0.5, numExamples: 4 } }, { roundTimeoutMs: 60 });
    const { summary } = await federated.federatedEvaluate(1);
    expect(summary!.sites.map((s) => s.siteId)).toEqual(['a', 'c']);
    expect(ctx.evaluation).toBeUndefined();
    expect(ctx.unresponsive.misses('b')).toBe(1);
    expect(ctx.unresponsive.misses('a')).toBe(0);
    expect(ctx.unresponsive.misses('c')).toBe(0);
    expect(federated.evaluationSample(2)).toEqual(['a', 'c']);
    sent.length = 0;
    await federated.federatedEvaluate(2);
    expect(sent.map((m) => m.siteId)).toEqual(['a', 'c']);
  });

  it('a silent site that left during the evaluation is not put on record', async () => {
    const { federated, ctx, sites } = fakeRun({ a: { accuracy: 0.5, numExamples: 4 }, b: 'silent' }, { roundTimeoutMs: 60 });
    const evaluated = federated.federatedEvaluate(1);
    sites.delete('b');
    await evaluated;
    expect(ctx.unresponsive.misses('b')).toBe(0);
  });
});

describe('FederatedEvaluation.evaluationSample: ceil(fraction × joined), capped, at least one, sorted', () => {
  const ids = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'];
  const sample = (config: Record<string, unknown>, round = 1) => fakeRun(Object.fromEntries(ids.map((id) => [id, 'silent' as const])), config).federated.evaluationSample(round);

  it.each([
    [{ evaluationFraction: 1 }, 10],
    [{ evaluationFraction: 0.5 }, 5],
    [{ evaluationFraction: 0.21 }, 3],
    [{ evaluationFraction: 0.01 }, 1],
    [{ evaluationFraction: 0.5, maxEvaluationSites: 2 }, 2],
    [{ evaluationFraction: 1, maxEvaluationSites: 9 }, 9],
    [{ evaluationFraction: 1, maxEvaluationSites: 10 }, 10],
    [{ evaluationFraction: 0.3, maxEvaluationSites: 20 }, 3],
  ])('%j: %i sites', (config, k) => {
    const s = sample(config);
    expect(s).toHaveLength(k);
    expect(new Set(s).size).toBe(k);
    expect([...s].sort()).toEqual(s);
    for (const id of s) expect(ids).toContain(id);
  });

  it('is seeded by the run seed and the round: the same for the same both, another for another', () => {
    const rounds = [1, 2, 3, 4, 5].map((r) => sample({ evaluationFraction: 0.3 }, r).join());
    expect(sample({ evaluationFraction: 0.3 }, 1).join()).toBe(rounds[0]);
    expect(new Set(rounds).size).toBeGreaterThan(1);
    const seeds = [1, 2, 3, 4, 5].map((seed) => sample({ evaluationFraction: 0.3, seed }, 1).join());
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });
});

describe('FederatedEvaluation.calibrate: the run\'s temperature scaling', () => {
  /** Over-confident logits (×2) of `n` examples with 3 classes. */
  function validation(seed: number, n: number) {
    const rand = mulberry32(seed);
    const logits: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = Math.floor(rand() * 3);
      labels.push(y);
      for (let c = 0; c < 3; c++) logits.push(2 * ((c === y ? 1 : 0) + rand() * 1.5));
    }
    return { logits, labels };
  }
  const data = { a: validation(1, 40), b: validation(2, 60) };
  const honest = (id: string, of: 'a' | 'b' = id as 'a' | 'b') => (p: Record<string, unknown>): Parameters<EvaluationCollector['add']> => {
    const betas = (p.calibration as { betas: number[] }).betas;
    return [ev(id, 0.5, data[of].labels.length), { betas, count: data[of].labels.length, stats: temperatureStats(data[of].logits, data[of].labels, betas) }];
  };

  it('off, or a model that cannot fit one: none', async () => {
    const fitTemperatureOnHoldout = async () => ({ temperature: 2, fittedOn: 10 });
    expect(await fakeRun({}, { calibration: { source: 'off' } }, { fitTemperature: fitTemperatureOnHoldout }).federated.calibrate(1)).toBeUndefined();
    expect(await fakeRun({}, { calibration: { source: 'holdout' } }).federated.calibrate(1)).toBeUndefined();
  });

  it('on the holdout: the model\'s fit of the global weights, no bytes sent', async () => {
    const seen: unknown[] = [];
    const { federated, sent } = fakeRun({ a: honest('a') }, { calibration: { source: 'holdout' } }, { fitTemperature: async (w: unknown) => (seen.push(w), { temperature: 1.5, fittedOn: 60 }) });
    expect(await federated.calibrate(1)).toEqual({ fit: { temperature: 1.5, fittedOn: 60, source: 'holdout' }, bytesDown: 0 });
    expect(seen).toEqual([GLOBAL]);
    expect(sent).toEqual([]);
  });

  it('federated: the pooled fit of the sites\' sums, with the bytes of every question', async () => {
    const { federated, sent } = fakeRun({ a: honest('a'), b: honest('b') }, { calibration: { source: 'federated' } }, { fitTemperature: async () => ({ temperature: 9, fittedOn: 1 }) });
    const out = await federated.calibrate(2);
    const pooled = fitTemperature([...data.a.logits, ...data.b.logits], [...data.a.labels, ...data.b.labels]);
    expect(out!.fit!.source).toBe('federated');
    expect(out!.fit!.fittedOn).toBe(100);
    expect(Math.abs(out!.fit!.temperature - pooled)).toBeLessThan(1e-6);
    expect(out).not.toHaveProperty('warning');
    const questions = sent.filter((m) => m.event === 'evaluate');
    expect(questions.length).toBeGreaterThan(2);
    for (const m of questions) expect(m.payload).toMatchObject({ round: 2, modelVersion: 2, calibration: { betas: expect.any(Array) } });
    // The first question goes with the weights; the sites then hold the version (weightsFor is the run's), yet the
    // stand-in sites never claim it, so every question carries them: bytes are the topologies and every weights payload.
    const weightBytes = questions.reduce((n, m) => n + ((m.payload.weights as Uint8Array | undefined)?.byteLength ?? 0), 0);
    expect(out!.bytesDown).toBe(2 * 100 + weightBytes);
  });

  it('federated, one site past the bounds of the median: held to them, and a warning names it and the cap', async () => {
    const inflated = (p: Record<string, unknown>): Parameters<EvaluationCollector['add']> => {
      const [e, c] = honest('b')(p);
      return [e, { ...c!, count: 60, stats: c!.stats.map((s) => ({ nll: s.nll * 1000, grad: s.grad * 1000, hess: s.hess * 1000 })) }];
    };
    const { federated } = fakeRun({ a: honest('a'), b: inflated, c: honest('c', 'a') }, { calibration: { source: 'federated' } }, { fitTemperature: async () => ({ temperature: 9, fittedOn: 1 }) });
    const out = await federated.calibrate(1);
    expect(out!.fit!.source).toBe('federated');
    expect(out!.warning).toBe("federated calibration: the sums of b were held to their announced examples or the bounds of the participants' and the holdout's median (exampleWeightCap 4)");
  });

  it('federated with no site able to answer: the holdout fit, with a warning saying why', async () => {
    const { federated } = fakeRun({ a: (p) => [ev('a', 0.5, 0), { betas: (p.calibration as { betas: number[] }).betas, count: 0, stats: (p.calibration as { betas: number[] }).betas.map(() => ({ nll: 0, grad: 0, hess: 0 })) }] }, { calibration: { source: 'federated' } }, { fitTemperature: async () => ({ temperature: 1.25, fittedOn: 60 }) });
    const out = await federated.calibrate(1);
    expect(out!.fit).toEqual({ temperature: 1.25, fittedOn: 60, source: 'holdout' });
    expect(out!.warning).toBe("federated calibration failed (no site sent calibration sums over a non-empty validation split); the temperature was fitted on the coordinator's holdout");
    expect(out!.bytesDown).toBeGreaterThan(0);
  });

  it('federated, a participant that stops answering: the holdout fit with a warning (quorum not met)', async () => {
    let asked = 0;
    const flaky = (p: Record<string, unknown>) => (++asked > 1 ? undefined : honest('b')(p));
    const { federated } = fakeRun({ a: honest('a'), b: flaky }, { calibration: { source: 'federated' }, roundTimeoutMs: 50 }, { fitTemperature: async () => ({ temperature: 1.25, fittedOn: 60 }) });
    const out = await federated.calibrate(1);
    expect(out!.fit!.source).toBe('holdout');
    expect(out!.warning).toMatch(/^federated calibration failed \(federated calibration: b did not answer\); the temperature/);
  });

  it('federated: the whole fit has one deadline (2 × the round timeout): a participant that answers each question late ends it on the holdout', async () => {
    // Both answer every question after 35 ms (inside the 50 ms question timeout): the fit's questions (a grid, then
    // Newton steps to machine precision: more than two) would take well over its budget of 100 ms (an attacker
    // answering just before each timeout held the run ~46 timeouts).
    const slow = (id: 'a' | 'b') => (p: Record<string, unknown>) => {
      const answer = honest(id)(p);
      setTimeout(() => (ctx.evaluation as EvaluationCollector | undefined)?.add(...answer), 35);
      return undefined;
    };
    const { federated, ctx, sent } = fakeRun({ a: slow('a'), b: slow('b') }, { calibration: { source: 'federated' }, roundTimeoutMs: 50 }, { fitTemperature: async () => ({ temperature: 1.25, fittedOn: 60 }) });
    const out = await federated.calibrate(1);
    // At most the questions that fit in 100 ms at 35 ms each, and one cut short (the whole fit asks more: see above).
    expect(sent.filter((m) => m.event === 'evaluate' && m.siteId === 'a').length).toBeLessThanOrEqual(4);
    expect(out!.fit).toEqual({ temperature: 1.25, fittedOn: 60, source: 'holdout' });
    // Either the deadline passed between two questions, or the last question's shortened wait ended before the answers.
    expect(out!.warning).toMatch(/^federated calibration failed \((the fit took longer than its 100 ms \(2 × the round timeout\)|no site sent calibration sums.*|federated calibration: (a|b|a, b) did not answer)\); the temperature was fitted on the coordinator's holdout$/);
    expect(FEDERATED_CALIBRATION_BUDGET).toBe(2);
  });

  it('calibrationQuery past the deadline asks no one', async () => {
    const { federated, sent } = fakeRun({ a: honest('a') });
    await expect(federated.calibrationQuery(1, [1], undefined, Date.now() - 1, 600_000)).rejects.toMatchObject({ code: 'timeout', message: 'the fit took longer than its 600 s (2 × the round timeout)' });
    expect(sent).toEqual([]);
  });

  it('federated: any other error is the run\'s, not a warning', async () => {
    const { federated } = fakeRun({}, { calibration: { source: 'federated' } }, { fitTemperature: async () => ({ temperature: 1, fittedOn: 1 }) });
    federated.calibrationQuery = async () => { throw new FedtuneError('internal', 'the query broke'); };
    await expect(federated.calibrate(1)).rejects.toMatchObject({ code: 'internal', message: 'the query broke' });
    federated.calibrationQuery = async () => { throw new Error('plain'); };
    await expect(federated.calibrate(1)).rejects.toThrow('plain');
  });

  it('calibrationQuery asks the joined sites (only those named, when named) and returns their sums', async () => {
    const { federated, sent } = fakeRun({ a: honest('a'), b: honest('b'), c: 'silent' }, { roundTimeoutMs: 50 });
    const answer = await federated.calibrationQuery(1, [1, 0.5], ['b', 'zz']);
    expect(sent.map((m) => m.siteId)).toEqual(['b']);
    expect(sent[0].payload.calibration).toEqual({ betas: [1, 0.5] });
    expect([...answer.sums.keys()]).toEqual(['b']);
    expect(answer.sums.get('b')!.stats).toEqual(temperatureStats(data.b.logits, data.b.labels, [1, 0.5]));
    expect(answer.bytesDown).toBeGreaterThan(100);
  });

  it('federated: the participants\' announced examples and the model\'s holdout sums (of the global weights, at the grid) bound the fit', async () => {
    // b claims 60 validation examples with sums × 1000; it announced 30 training examples at hello.
    const inflated = (p: Record<string, unknown>): Parameters<EvaluationCollector['add']> => {
      const [e, c] = honest('b')(p);
      return [e, { ...c!, count: 60, stats: c!.stats.map((s) => ({ nll: s.nll * 1000, grad: s.grad * 1000, hess: s.hess * 1000 })) }];
    };
    const asked: Array<{ weights: unknown; betas: readonly number[] }> = [];
    const calibrationReference = async (weights: unknown, betas: readonly number[]) => {
      asked.push({ weights, betas });
      return { betas: [...betas], count: data.a.labels.length, stats: temperatureStats(data.a.logits, data.a.labels, betas) };
    };
    const run = fakeRun({ a: honest('a'), b: inflated }, { calibration: { source: 'federated' } }, { fitTemperature: async () => ({ temperature: 9, fittedOn: 1 }), calibrationReference });
    for (const [id, n] of [['a', 1000], ['b', 30]] as const) (run.sites.get(id) as unknown as { numExamples: number }).numExamples = n;
    const out = await run.federated.calibrate(1);
    expect(out!.warning).toMatch(/the sums of b were held/);
    // Asked once, at the first question's inverse temperatures, with the global weights.
    expect(asked.length).toBe(1);
    expect(asked[0].weights).toBe(GLOBAL);
    expect(asked[0].betas).toEqual((run.sent.find((m) => m.event === 'evaluate')!.payload.calibration as { betas: number[] }).betas);
    // The same fit as the bare function given the same bounds.
    const direct = await fitFederatedTemperature(async (betas) => {
      const answers = new Map<string, CalibrationAnswer>();
      for (const [id, answer] of [['a', honest('a')], ['b', inflated]] as const) answers.set(id, answer({ calibration: { betas: [...betas] } })[1]!);
      return answers;
    }, 4, { announced: new Map([['a', 1000], ['b', 30]]), reference: (betas) => calibrationReference(GLOBAL, betas) });
    expect(out!.fit!.temperature).toBe(direct.temperature);
    // Without the announced counts b weighs its claimed 60 (capped at 4 × the median): another fit.
    const unannounced = await fitFederatedTemperature(async (betas) => {
      const answers = new Map<string, CalibrationAnswer>();
      for (const [id, answer] of [['a', honest('a')], ['b', inflated]] as const) answers.set(id, answer({ calibration: { betas: [...betas] } })[1]!);
      return answers;
    }, 4, { reference: (betas) => calibrationReference(GLOBAL, betas) });
    expect(unannounced.temperature).not.toBe(direct.temperature);
  });

  it('federated, two sites past the bounds: both named in the warning', async () => {
    const inflated = (id: string) => (p: Record<string, unknown>): Parameters<EvaluationCollector['add']> => {
      const [, c] = honest(id, 'b')(p);
      return [ev(id, 0.5, 60), { ...c!, stats: c!.stats.map((s) => ({ nll: s.nll * 1000, grad: s.grad * 1000, hess: s.hess * 1000 })) }];
    };
    const { federated } = fakeRun({ a: honest('a'), b: inflated('b'), c: honest('c', 'a'), d: inflated('d'), e: honest('e', 'a') }, { calibration: { source: 'federated' } }, { fitTemperature: async () => ({ temperature: 9, fittedOn: 1 }) });
    const out = await federated.calibrate(1);
    expect(out!.warning).toBe("federated calibration: the sums of b, d were held to their announced examples or the bounds of the participants' and the holdout's median (exampleWeightCap 4)");
  });
});

describe('what is left when an evaluation ends early', () => {
  it('leaves no timer behind once done: with no site asked, all answered, or all dropped', async () => {
    vi.useFakeTimers();
    try {
      const empty = new EvaluationCollector(1, [], 60_000);
      expect(vi.getTimerCount()).toBe(0);
      await empty.done;
      const answered = new EvaluationCollector(1, ['a'], 60_000);
      expect(vi.getTimerCount()).toBe(1);
      answered.add(ev('a', 1, 1));
      expect(vi.getTimerCount()).toBe(0);
      await answered.done;
      const dropped = new EvaluationCollector(1, ['a'], 60_000);
      dropped.drop('a');
      expect(vi.getTimerCount()).toBe(0);
      await dropped.done;
    } finally {
      vi.useRealTimers();
    }
  });

  it('a sampled site no longer registered is not asked and not waited for', async () => {
    const { federated, ctx, sent } = fakeRun({ a: { accuracy: 0.5, numExamples: 4 } });
    const ids = ctx.sites.ids;
    ctx.sites.ids = () => [...ids(), 'ghost'];
    const started = Date.now();
    const { summary } = await federated.federatedEvaluate(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sent.map((m) => m.siteId)).toEqual(['a']);
    expect(summary!.sites.map((s) => s.siteId)).toEqual(['a']);
    expect(ctx.unresponsive.misses('ghost')).toBe(0);
  });
});

describe('federated evaluation: order and pinned choices', () => {
  it('answers in any order: the sites listed in id order, the worst wherever it is', async () => {
    let ctx: Record<string, any> = {};
    const after = (ms: number, e: SiteEvaluation) => () => {
      setTimeout(() => (ctx.evaluation as EvaluationCollector | undefined)?.add(e), ms);
      return undefined;
    };
    const run = fakeRun({ a: after(60, ev('a', 0.75, 10)), b: after(30, ev('b', 0.5, 10)), c: after(0, ev('c', 0.25, 20)) });
    ctx = run.ctx;
    const { summary } = await run.federated.federatedEvaluate(1);
    expect(summary!.sites.map((s) => s.siteId)).toEqual(['a', 'b', 'c']);
    expect(summary!.worstSite).toEqual({ siteId: 'c', accuracy: 0.25 });
    // (0.75 × 10 + 0.5 × 10 + 0.25 × 20) / 40
    expect(summary!.accuracy).toBe(0.4375);
  });

  it('the sample of seed 7, round 1, 3 of 10 sites, is pinned: runs are reproducible across versions', () => {
    const ids = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'];
    const { federated } = fakeRun(Object.fromEntries(ids.map((id) => [id, 'silent' as const])), { evaluationFraction: 0.3, seed: 7 });
    expect(federated.evaluationSample(1)).toEqual(PINNED);
  });
});

describe('FederatedEvaluation.runSiteReport: who is asked for the final report', () => {
  it('every joined site and every site of a round, in id order; one that left, closed or is cooling down is missing with why', async () => {
    const config = RunConfig.parse({ runId: RUN, minSites: 1, roundTimeoutMs: 60_000 });
    const { ctx, sent, sites } = fakeRun({ d: 'silent', a: 'silent', c: 'silent', e: 'silent' }, config);
    const events: unknown[] = [];
    Object.assign(ctx, {
      report: { rounds: [{ selected: ['f', 'b', 'a'] }, { selected: ['a'] }] },
      emit: (e: unknown) => events.push(e),
      trainSettings: () => ({ epochs: 1, batchSize: 8, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' }),
    });
    sites.get('d')!.link.closed = true;
    ctx.unresponsive.missed('c', 3);
    // a and e answer their instruction (as the router would pass it on).
    for (const id of ['a', 'e']) {
      sites.get(id)!.link.send = (event: string, payload: Record<string, unknown>) => {
        sent.push({ siteId: id, event, payload });
        if (event === 'siteReport') setImmediate(() => ctx.siteReportRound.add(id, { runId: RUN, round: 3, siteId: id, numExamples: 10, durationMs: 1, arms: { global: { accuracy: 0.5, loss: 0.5 } } }));
      };
    }
    const section = await new FederatedEvaluation(ctx as never).runSiteReport(3);
    expect(events).toEqual([{ type: 'site-report-start', round: 3, sites: ['a', 'b', 'c', 'd', 'e', 'f'] }]);
    expect(sent.filter((m) => m.event === 'siteReport').map((m) => m.siteId)).toEqual(['a', 'e']);
    expect(ctx.siteReportRound).toBeUndefined();
    expect(section.sites.map((s) => s.siteId)).toEqual(['a', 'e']);
    expect(section.missing).toEqual([
      { siteId: 'b', reason: 'disconnected before the site report (left the run)' },
      { siteId: 'c', reason: 'not asked: it gave no answer in a recent round (1 in a row; stragglers.maxCooldownRounds)' },
      { siteId: 'd', reason: 'disconnected before the site report (left the run)' },
      { siteId: 'f', reason: 'disconnected before the site report (left the run)' },
    ]);
  });
});
