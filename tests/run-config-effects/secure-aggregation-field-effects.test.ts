import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startCoordinator, type RunConfigInput, type RunningCoordinator } from '@fedtune/coordinator';
import { MemoryNetwork, SiteClient, splitDataset, type ClientConnector, type RunReport, type SecureAggInstruction, type WeightArrays } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData } from '../access/helpers.ts';
import { tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/**
 * Effect tests of the run config's secure-aggregation fields (run-config-field-coverage.test.ts): clip,
 * neighbours and range. A one-round secure federation of the real coordinator and SiteClients over the
 * in-memory network, with the tiny 4-feature model (67 parameters), run with two values of one field; what each
 * site receives, computes and sends is recorded at the site (its connector and the test-only SecAggProbe) and
 * compared:
 * - clip: the L2 norm every site clips its delta to before masking — the sites' inputs, and so the global model's
 *   step, are no longer than it;
 * - neighbours: the degree of the masking graph (SecAgg+) — how many sites each one deals key shares to;
 * - range: the fixed-point range R — coordinates outside [−R, R] are clamped, so no coordinate of the global
 *   model moves by more than R.
 * phaseTimeoutMs and threshold have their effect tests in tests/secure-aggregation.test.ts.
 */

interface Outcome {
  report: RunReport;
  /** Each site's secure-aggregation instruction (with its fit). */
  instructions: Map<string, SecureAggInstruction>;
  /** Each site's clipped delta (the probe: it never leaves the site). */
  inputs: Map<string, WeightArrays>;
  /** How many key shares each site dealt (secaggShareKeys: one per neighbour, itself included). */
  sharesDealt: Map<string, number>;
  /** The global model before and after the round. */
  initial: WeightArrays;
  final: WeightArrays;
}

const open: RunningCoordinator[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined);
});

/** A connector whose links record the site's fit instructions and the shares it deals. */
function recording(connector: ClientConnector, siteId: string, o: Pick<Outcome, 'instructions' | 'sharesDealt'>): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link) as (event: string, payload: unknown) => void;
      link.send = ((event: string, payload: unknown) => {
        if (event === 'secaggShareKeys') o.sharesDealt.set(siteId, (payload as { shares: unknown[] }).shares.length);
        send(event, payload);
      }) as typeof link.send;
      const onMessage = link.onMessage.bind(link);
      link.onMessage = ((handler: Parameters<typeof onMessage>[0]) =>
        onMessage((m) => {
          if (m.event === 'fit' && m.payload.secureAggregation) o.instructions.set(siteId, m.payload.secureAggregation);
          handler(m);
        })) as typeof link.onMessage;
      return link;
    },
  };
}

/** The access tests' tiny model (4 → 8 → 3), with seeded initial weights: every run starts from the same model. */
function tinyModel(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: init(1) }), tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(2) })] });
}

async function secureRound(sites: number, secureAggregation: NonNullable<RunConfigInput['secureAggregation']>): Promise<Outcome> {
  const backend = await selectNodeBackend();
  const memory = new MemoryNetwork();
  const model = tinyModel();
  const initial = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
  const coordinator = await startCoordinator({
    runsDir: tempDir('fedtune-secagg-effects-'),
    model,
    architecture: 'tiny',
    holdout: tinyData(60, 99),
    backend: backend.backend,
    transport: memory,
    checkpoints: false,
    config: {
      runId: 'secagg-effects',
      rounds: 1,
      minSites: sites,
      seed: 3,
      roundTimeoutMs: 60_000,
      joinTimeoutMs: 60_000,
      federatedEvaluation: 'never',
      robustness: { when: 'never' },
      maxAccuracyDrop: 1,
      // A large step, so the deltas are well beyond the smaller settings below.
      train: { epochs: 1, batchSize: 8, learningRate: 0.5, optimizer: 'sgd', trainable: 'all' },
      secureAggregation,
    },
  });
  open.push(coordinator);
  const o: Omit<Outcome, 'report' | 'final'> = { instructions: new Map(), inputs: new Map(), sharesDealt: new Map(), initial };
  const runs = Array.from({ length: sites }, (_, k) => {
    const siteId = `site-${k + 1}`;
    return new SiteClient({
      siteId,
      connector: recording(memory.connector(), siteId, o),
      data: splitDataset(tinyData(40, 10 + k), 5),
      backend: backend.backend,
      runtime: 'node',
      policy: testSitePolicy(),
      secAggProbe: { input: (i) => o.inputs.set(siteId, i.update) },
    }).run();
  });
  const report = await coordinator.done;
  await Promise.all(runs);
  const final = coordinator.engine.weights.map((a) => Float32Array.from(a));
  await coordinator.close();
  expect(report.status, report.aborted).toBe('complete');
  expect(report.rounds[0]!.accepted).toHaveLength(sites);
  return { report, ...o, final };
}

const norm = (w: WeightArrays) => Math.sqrt(w.reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0));
const step = (o: Outcome) => o.final.map((a, i) => a.map((v, j) => v - o.initial[i]![j]!));
const maxAbs = (w: WeightArrays) => Math.max(...w.map((a) => Math.max(...a.map(Math.abs))));

describe('secure-aggregation fields of the run config change what the sites do', () => {
  it('secureAggregation.clip: every site clips its delta to it, and the global model moves by no more', { timeout: 120_000 }, async () => {
    const tight = await secureRound(4, { clip: 0.05 });
    const loose = await secureRound(4, { clip: 100 });
    for (const o of [tight, loose]) expect([...o.instructions.values()].map((i) => i.clip)).toEqual(Array(4).fill(o === tight ? 0.05 : 100));
    const tightNorms = [...tight.inputs.values()].map(norm);
    const looseNorms = [...loose.inputs.values()].map(norm);
    expect(tightNorms).toHaveLength(4);
    // Clipped: exactly the clip (the deltas are longer); unclipped: the deltas as trained, all longer than 0.05.
    for (const n of tightNorms) expect(n).toBeCloseTo(0.05, 5);
    for (const n of looseNorms) expect(n).toBeGreaterThan(0.1);
    expect(norm(step(tight))).toBeLessThanOrEqual(0.05 + 1e-5);
    expect(norm(step(loose))).toBeGreaterThan(0.1);
  });

  it('secureAggregation.neighbours: each site deals key shares to its k neighbours (and itself) instead of to every site', { timeout: 120_000 }, async () => {
    const everyone = await secureRound(6, { clip: 1 });
    const ring = await secureRound(6, { clip: 1, neighbours: 2 });
    expect([...everyone.instructions.values()].map((i) => i.neighbours)).toEqual(Array(6).fill(undefined));
    expect([...ring.instructions.values()].map((i) => i.neighbours)).toEqual(Array(6).fill(2));
    expect([...everyone.sharesDealt.values()]).toEqual(Array(6).fill(6));
    expect([...ring.sharesDealt.values()]).toEqual(Array(6).fill(3));
    // The threshold follows the neighbourhood: a strict majority of 3, not of 6.
    expect(ring.instructions.get('site-1')!.threshold).toBe(2);
    expect(everyone.instructions.get('site-1')!.threshold).toBe(4);
    // Either way the round sums the same clipped deltas (within the fixed-point error).
    expect(maxAbs(step(ring).map((a, i) => a.map((v, j) => v - step(everyone)[i]![j]!)))).toBeLessThan(1e-6);
  });

  it('secureAggregation.range: coordinates are clamped to ±range before masking, so none of the global model\'s moves more', { timeout: 120_000 }, async () => {
    const wide = await secureRound(4, { clip: 1 });
    const narrow = await secureRound(4, { clip: 1, range: 0.002 });
    expect(wide.instructions.get('site-1')!.fixedPoint.range).toBe(1);
    expect(narrow.instructions.get('site-1')!.fixedPoint.range).toBe(0.002);
    // The same clipped inputs (the range does not change training or clipping)…
    expect([...narrow.inputs.values()].map(norm)).toEqual([...wide.inputs.values()].map(norm));
    expect(Math.max(...[...narrow.inputs.values()].map(maxAbs))).toBeGreaterThan(0.01);
    // …but the sum holds them clamped to ±0.002: the weighted mean moves no coordinate by more.
    expect(maxAbs(step(narrow))).toBeLessThanOrEqual(0.002 + 1e-6);
    expect(maxAbs(step(wide))).toBeGreaterThan(0.01);
  });
});
