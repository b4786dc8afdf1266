import { createHash } from 'node:crypto';
import { testSitePolicy } from '../helpers/test-site-policy.ts';
import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import {
  deriveSeed,
  MemoryNetwork,
  siteName,
  SiteClient,
  splitDataset,
  strategies,
  type ClientConnector,
  type CoordinatorLink,
  type TrainSettings,
  type WeightArrays,
} from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

const train: TrainSettings = { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' };

describe('strategies configure the sites through one hook (configureTrain)', () => {
  it('fedprox sends its μ, given or default', () => {
    const hook = strategies.fedprox.configureTrain!;
    expect(hook(train, { round: 1, state: null, options: { proximalMu: 1 } })).toEqual({ ...train, proximalMu: 1 });
    expect(hook(train, { round: 3, state: null, options: {} }).proximalMu).toBe(0.01);
    expect(hook(train, { round: 1, state: null, options: { proximalMu: 0 } }).proximalMu).toBe(0);
    expect(() => hook(train, { round: 1, state: null, options: { proximalMu: -1 } })).toThrow(/proximalMu/);
  });

  it('no other strategy changes what the sites train with', () => {
    for (const [name, s] of Object.entries(strategies)) {
      if (name === 'fedprox') continue;
      const out = s.configureTrain?.(train, { round: 1, state: s.initialState({}), options: {} }) ?? train;
      expect(out, name).toEqual(train);
    }
  });

  it.each(['krum', 'multikrum', 'bulyan'])('%s takes f from the expected number of malicious sites when f is not given', (name) => {
    const s = strategies[name];
    expect(s.completeOptions!({}, { expectedMaliciousSites: 2 })).toEqual({ f: 2 });
    expect(s.completeOptions!({ f: 1 }, { expectedMaliciousSites: 2 })).toEqual({ f: 1 });
    expect(s.completeOptions!({}, {})).toEqual({});
    expect(s.completeOptions!(undefined as never, { expectedMaliciousSites: 3 })).toEqual({ f: 3 });
  });

  it('strategies without a byzantine count leave their options alone', () => {
    for (const [name, s] of Object.entries(strategies)) {
      if (['krum', 'multikrum', 'bulyan'].includes(name)) continue;
      expect(s.completeOptions?.({}, { expectedMaliciousSites: 2 }) ?? {}, name).toEqual({});
    }
  });
});

/** Runs a small in-memory federation and records the fit configs each site received. */
async function federation(config: Partial<RunConfigInput>, sites = 3, siteOptions: Partial<ConstructorParameters<typeof SiteClient>[0]> = {}) {
  const backend = await selectNodeBackend();
  const seed = 5;
  const memory = new MemoryNetwork();
  const fitConfigs: Array<Record<string, unknown>> = [];
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 100),
    backend: backend.backend,
    transport: memory,
    config: { runId: 'configure-train', rounds: 1, minSites: sites, seed, robustness: { when: 'never' }, federatedEvaluation: 'never', train: { ...train, epochs: 2 }, ...config },
  });
  const recording: ClientConnector = {
    connect: async () => {
      const link: CoordinatorLink = await memory.connector().connect();
      const onMessage = link.onMessage.bind(link);
      link.onMessage = (handler) =>
        onMessage((m) => {
          if (m.event === 'fit') fitConfigs.push(m.payload.config as Record<string, unknown>);
          handler(m);
        });
      return link;
    },
  };
  const datasets = builtinDigitsSites({ sites, partition: { kind: 'dirichlet', alpha: 0.5 }, seed });
  const clients = datasets.map((full, k) => new SiteClient({ siteId: siteName(k), connector: recording, data: splitDataset(head(full, 80), deriveSeed(seed, 'split', siteName(k))), backend: backend.backend, runtime: 'node', policy: testSitePolicy(), ...siteOptions }));
  const runs = clients.map((c) => c.run());
  const report = await coordinator.done;
  await Promise.all(runs);
  const weights = coordinator.engine.weights;
  await coordinator.close();
  return { report, fitConfigs, weights };
}

const digest = (w: WeightArrays) => {
  const h = createHash('sha256');
  for (const a of w) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};

describe('fedprox in a run', () => {
  it('μ reaches every site with its fit instruction and changes the global model', async () => {
    const strong = await federation({ strategy: 'fedprox', strategyOptions: { proximalMu: 1 } });
    const none = await federation({ strategy: 'fedprox', strategyOptions: { proximalMu: 0 } });
    expect(strong.report.status, strong.report.aborted).toBe('complete');
    expect(strong.fitConfigs).toHaveLength(3);
    expect(strong.fitConfigs.every((c) => c.proximalMu === 1)).toBe(true);
    expect(none.fitConfigs.every((c) => c.proximalMu === 0)).toBe(true);
    expect(digest(strong.weights)).not.toBe(digest(none.weights));
  }, 300_000);

  it('μ has one place: train.proximalMu beside fedprox is refused unless it is the strategy option μ; with fedavg it reaches the sites as given', async () => {
    await expect(federation({ strategy: 'fedprox', train: { ...train, proximalMu: 0.5 } })).rejects.toMatchObject({
      code: 'config',
      message: 'train.proximalMu 0.5 is replaced by strategy "fedprox", which sends its option proximalMu (0.01): give it once, as the strategy option (--strategy-opt proximalMu=0.5, strategyOptions.proximalMu in a file)',
    });
    await expect(federation({ strategy: 'fedprox', strategyOptions: { proximalMu: 1 }, train: { ...train, proximalMu: 0 } })).rejects.toThrow(/^train.proximalMu 0 is replaced by strategy "fedprox", which sends its option proximalMu \(1\)/);
    const same = await federation({ strategy: 'fedprox', strategyOptions: { proximalMu: 0.5 }, train: { ...train, epochs: 2, proximalMu: 0.5 } }, 2);
    expect(same.report.status, same.report.aborted).toBe('complete');
    expect(same.fitConfigs.map((c) => c.proximalMu)).toEqual([0.5, 0.5]);
    const fedavg = await federation({ strategy: 'fedavg', train: { ...train, epochs: 2, proximalMu: 0.5 } }, 2);
    expect(fedavg.fitConfigs.map((c) => c.proximalMu)).toEqual([0.5, 0.5]);
  }, 300_000);

  it('fedavg sends no proximal term', async () => {
    const { fitConfigs } = await federation({ strategy: 'fedavg' }, 2);
    expect(fitConfigs).toHaveLength(2);
    expect(fitConfigs.every((c) => c.proximalMu === undefined)).toBe(true);
  }, 300_000);

  it("krum's f comes from expectedMaliciousSites when not given, and the report shows the f used", async () => {
    const { report } = await federation({ strategy: 'krum', expectedMaliciousSites: 1, rounds: 1 }, 5);
    expect(report.status, report.aborted).toBe('complete');
    expect((report.config.strategyOptions as { f?: number }).f).toBe(1);
  }, 300_000);
});

describe('strategies that need a number of updates say so before anything trains', () => {
  it.each([
    ['krum', { f: 0 }, 3],
    ['krum', { f: 2 }, 7],
    ['multikrum', { f: 1 }, 5],
    ['bulyan', { f: 1 }, 7],
  ])('%s %j needs %i updates', (name, options, n) => {
    expect(strategies[name].minimumUpdates!(options)).toBe(n);
  });
  it('others need one', () => {
    for (const [name, s] of Object.entries(strategies)) if (!['krum', 'multikrum', 'bulyan'].includes(name)) expect(s.minimumUpdates?.({}) ?? 1, name).toBe(1);
  });
  it('a run whose minSites is below what the strategy needs is refused with a config error naming both', async () => {
    await expect(federation({ strategy: 'krum', strategyOptions: { f: 1 }, minSites: 3 }, 3)).rejects.toThrow(/strategy "krum".*needs at least 5 updates per round, but the run starts with minSites = 3/);
  });
});

describe("a site's own adversarial settings in a run (site flag > coordinator instruction)", () => {
  it('sites that opt out (share 0) train exactly as if the coordinator had asked for no adversarial training', async () => {
    const adversarial = { method: 'pgd', share: 1, eps: 0.1, steps: 2 } as const;
    const small = { ...train, maxExamples: 16 };
    const asked = await federation({ train: { ...small, adversarial } }, 2);
    const optedOut = await federation({ train: { ...small, adversarial } }, 2, { adversarial: { share: 0 } });
    const plain = await federation({ train: small }, 2);
    expect(optedOut.fitConfigs.every((c) => (c.adversarial as { share: number }).share === 1)).toBe(true);
    expect(digest(optedOut.weights)).toBe(digest(plain.weights));
    expect(digest(asked.weights)).not.toBe(digest(plain.weights));
  }, 300_000);
});

describe('the ε warm-up in a run', () => {
  it('the coordinator sends each round its ε: round 1 gets ε/k, round k gets ε', async () => {
    const adversarial = { method: 'pgd', share: 1, eps: 0.09, steps: 1, warmupRounds: 3 } as const;
    const { report, fitConfigs } = await federation({ rounds: 3, train: { ...train, maxExamples: 8, adversarial } }, 2);
    expect(report.status, report.aborted).toBe('complete');
    const eps = fitConfigs.map((c) => (c.adversarial as { eps: number }).eps);
    expect(eps).toHaveLength(6);
    expect(eps.slice(0, 2)).toEqual([0.03, 0.03]);
    expect(eps[2]).toBeCloseTo(0.06, 12);
    expect(eps.slice(4)).toEqual([0.09, 0.09]);
  }, 300_000);
});
