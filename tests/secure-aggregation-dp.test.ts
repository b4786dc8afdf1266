import { describe, expect, it } from 'vitest';
import { aggregateDp, loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput, type RunningCoordinator } from '@fedtune/coordinator';
import { computeEpsilon, deriveSeed, FedtuneError, MemoryNetwork, SeededRandom, siteName, SiteClient, splitDataset, type SecAggProbe, type WeightArrays } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from './helpers/federation.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

/** A secure-aggregation + DP run over the in-memory transport; the sites' true inputs are seen through the test probe. */
async function dpSecureFederation(o: { sites: number; rounds?: number; config?: Partial<RunConfigInput>; dropAt?: Record<string, 'masked-input'> }) {
  const backend = await selectNodeBackend();
  const seed = 7;
  const memory = new MemoryNetwork();
  let coordinator: RunningCoordinator | undefined;
  const initial = new Map<number, WeightArrays>();
  coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 100),
    backend: backend.backend,
    transport: memory,
    onEvent: (e) => {
      if (e.type === 'round-start' && !initial.has(e.round)) initial.set(e.round, coordinator!.engine.weights.map((a) => a.slice()));
    },
    config: {
      runId: 'secagg-dp',
      rounds: o.rounds ?? 1,
      minSites: o.sites,
      seed,
      roundTimeoutMs: 60_000,
      joinTimeoutMs: 60_000,
      rejoinGraceMs: 100,
      robustness: { when: 'never' },
      federatedEvaluation: 'never',
      train: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all' },
      secureAggregation: { clip: 0.5 },
      dp: { noiseMultiplier: 0, clip: 0.5, delta: 1e-5, noise: 'central' },
      ...o.config,
    },
  });
  const inputs = new Map<string, { round: number; update: WeightArrays; weight: number }>();
  const datasets = builtinDigitsSites({ sites: o.sites, partition: { kind: 'dirichlet', alpha: 1 }, seed });
  const clients = datasets.map((full, k) => {
    const siteId = siteName(k);
    const probe: SecAggProbe = {
      input: (i) => inputs.set(`${i.round}/${siteId}`, { round: i.round, update: i.update, weight: i.weight }),
      beforeSend: (phase) => (o.dropAt?.[siteId] === phase ? 'drop' : undefined),
    };
    return new SiteClient({
      policy: testSitePolicy(),
      siteId,
      connector: memory.connector(),
      data: splitDataset(head(full, 40 + 20 * k), deriveSeed(seed, 'split', siteId)), // unequal sizes: uniform weighting matters
      backend: backend.backend,
      runtime: 'node',
      secAggProbe: probe,
    });
  });
  const runs = clients.map((c) => c.run());
  const report = await coordinator.done;
  await Promise.all(runs);
  await coordinator.close();
  return { report, inputs, initial, final: coordinator.engine.weights };
}

function maxAbsDiff(a: WeightArrays, b: WeightArrays): number {
  let m = 0;
  a.forEach((t, i) => t.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/** The sites' true local weights (global + clipped Δ), to feed the DP-only aggregation. */
function localOf(global: WeightArrays, update: WeightArrays): WeightArrays {
  return global.map((g, i) => Float32Array.from(g, (v, j) => v + update[i][j]));
}

describe('secure aggregation + client-level DP, dp.noise central (the coordinator noises the secure sum)', () => {
  it('z = 0, one site drops after masking: the round equals DP-only aggregateDp (same clip, uniform weights, denominator m = 4)', async () => {
    const { report, inputs, initial, final } = await dpSecureFederation({ sites: 4, dropAt: { 'site-3': 'masked-input' } });
    expect(report.status, report.aborted).toBe('complete');
    const record = report.rounds[0];
    const survivors = ['site-1', 'site-2', 'site-4'];
    expect(record.accepted.map((a) => a.siteId)).toEqual(survivors);
    // Uniform weights 1/m whatever the example counts; deltas clipped to C = 0.5 before masking.
    for (const s of ['site-1', 'site-2', 'site-3', 'site-4']) {
      const i = inputs.get(`1/${s}`)!;
      expect(i.weight).toBe(1 / 4);
      expect(Math.hypot(...i.update.flatMap((t) => [...t]))).toBeLessThanOrEqual(0.5 + 1e-5);
    }
    const g0 = initial.get(1)!;
    const dpOnly = aggregateDp(g0, survivors.map((s) => localOf(g0, inputs.get(`1/${s}`)!.update)), 4, 0.5, { noiseMultiplier: 0, clip: 0.5, delta: 1e-5 }, new SeededRandom(1));
    expect(maxAbsDiff(final, dpOnly.weights)).toBeLessThanOrEqual(1e-6);
    // Discriminates: dividing by the 3 survivors (a data-dependent denominator) is far off.
    const bySurvivors = aggregateDp(g0, survivors.map((s) => localOf(g0, inputs.get(`1/${s}`)!.update)), 3, 0.5, { noiseMultiplier: 0, clip: 0.5, delta: 1e-5 }, new SeededRandom(1));
    expect(maxAbsDiff(final, bySurvivors.weights)).toBeGreaterThan(1e-4);
    expect(record.privacy!.epsilon).toBe(Infinity);
    expect(record.privacy!.samplingRate).toBe(1);
  }, 120_000);

  it('z > 0: ε per round equals computeEpsilon(q = selected/joined, z, steps, δ), and the noise is there', async () => {
    const z = 1.1;
    const { report, inputs, initial, final } = await dpSecureFederation({
      sites: 4,
      rounds: 2,
      config: { fraction: 0.5, quorum: 1, dp: { noiseMultiplier: z, clip: 0.5, delta: 1e-5, noise: 'central' } },
    });
    expect(report.status, report.aborted).toBe('complete');
    for (const [i, r] of report.rounds.entries()) {
      expect(r.selected).toHaveLength(2);
      expect(r.privacy!.samplingRate).toBe(0.5);
      expect(r.privacy!.steps).toBe(i + 1);
      expect(r.privacy!.noiseMultiplier).toBe(z);
      const expected = computeEpsilon({ samplingRate: 0.5, noiseMultiplier: z, steps: i + 1, delta: 1e-5 }).epsilon;
      expect(r.privacy!.epsilon).toBeCloseTo(expected, 8);
    }
    expect(report.privacy!.epsilon).toBe(report.rounds[1].privacy!.epsilon);
    // Round 2's result minus its noiseless value is noise of std z·C/m = 1.1·0.5/2 per coordinate.
    const g1 = initial.get(2)!;
    const sel = report.rounds[1].selected;
    const noiseless = aggregateDp(g1, sel.map((s) => localOf(g1, inputs.get(`2/${s}`)!.update)), 2, 0.5, { noiseMultiplier: 0, clip: 0.5, delta: 1e-5 }, new SeededRandom(1));
    let ss = 0;
    let n = 0;
    final.forEach((t, i) => t.forEach((v, j) => ((ss += (v - noiseless.weights[i][j]) ** 2), n++)));
    const std = Math.sqrt(ss / n);
    expect(std).toBeGreaterThan(0.275 * 0.9);
    expect(std).toBeLessThan(0.275 * 1.1);
  }, 120_000);

  it('refuses a clip mismatch and adaptive clipping with secure aggregation, with clear config errors', async () => {
    const start = (config: Partial<RunConfigInput>) => dpSecureFederation({ sites: 2, config });
    const mismatch = await start({ secureAggregation: { clip: 1 }, dp: { noiseMultiplier: 1, clip: 0.5, delta: 1e-5 } }).catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(FedtuneError);
    expect((mismatch as FedtuneError).code).toBe('config');
    expect((mismatch as FedtuneError).message).toMatch(/same clip.*secureAggregation\.clip is 1 but dp\.clip is 0\.5/);
    const adaptive = await start({ dp: { noiseMultiplier: 1, clip: 0.5, delta: 1e-5, adaptive: { targetQuantile: 0.5, learningRate: 0.2 } } }).catch((e: unknown) => e);
    expect(adaptive).toBeInstanceOf(FedtuneError);
    expect((adaptive as FedtuneError).code).toBe('config');
    expect((adaptive as FedtuneError).message).toMatch(/adaptive clipping is not supported with secure aggregation/);
  }, 60_000);
});
