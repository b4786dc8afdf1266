import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import { deriveSeed, MemoryNetwork, siteName, SiteClient, socketIoConnector, splitDataset, type ClientConnector, type RunReport, type SecAggSendPhase, type WeightArrays } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from './helpers/federation.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

/**
 * Every feature over real socket.io at twenty sites, against the same federation over the in-memory
 * network: the same seed gives the same global model, bit for bit.
 */
const SITES = 20;

/** An instruction as a site received it off the wire: which, for which round, and whether it carried weights. */
interface WireInstruction {
  siteId: string;
  event: 'fit' | 'evaluate';
  round: number;
  weights: boolean;
}

/** Wraps a connector so every fit and evaluate the site receives is recorded (after the transport parsed it). */
function recording(connector: ClientConnector, siteId: string, into: WireInstruction[]): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const onMessage = link.onMessage.bind(link);
      link.onMessage = (handler) =>
        onMessage((m) => {
          if (m.event === 'fit' || m.event === 'evaluate') into.push({ siteId, event: m.event, round: m.payload.round, weights: m.payload.weights !== undefined });
          handler(m);
        });
      return link;
    },
  };
}

async function federation(transport: 'memory' | 'socket', config: Partial<RunConfigInput>, dropAt: Record<string, SecAggSendPhase> = {}, wire?: WireInstruction[]) {
  const backend = await selectNodeBackend();
  const seed = 21;
  const memory = transport === 'memory' ? new MemoryNetwork() : undefined;
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 200),
    backend: backend.backend,
    transport: memory ?? 'socket',
    host: '127.0.0.1',
    config: {
      runId: `scale-${transport}`,
      rounds: 2,
      minSites: SITES,
      seed,
      roundTimeoutMs: 120_000,
      joinTimeoutMs: 120_000,
      rejoinGraceMs: 100,
      robustness: { when: 'never' },
      federatedEvaluation: 'never',
      train: { epochs: 2, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all' },
      ...config,
    },
  });
  const datasets = builtinDigitsSites({ sites: SITES, partition: { kind: 'dirichlet', alpha: 1 }, seed });
  const clients = datasets.map((full, k) => {
    const siteId = siteName(k);
    return new SiteClient({
      policy: testSitePolicy(),
      siteId,
      connector: (wire ? (c: ClientConnector) => recording(c, siteId, wire) : (c: ClientConnector) => c)(memory ? memory.connector() : socketIoConnector({ url: coordinator.url! })),
      data: splitDataset(head(full, 30 + (k % 5) * 6), deriveSeed(seed, 'split', siteId)),
      backend: backend.backend,
      runtime: 'node',
      secAggProbe: dropAt[siteId] ? { beforeSend: (phase, info) => (phase === dropAt[siteId] && info.round === 1 ? 'drop' : undefined) } : undefined,
    });
  });
  const runs = clients.map((c) => c.run());
  const report = await coordinator.done;
  await Promise.all(runs);
  const weights = coordinator.engine.weights.map((a) => a.slice());
  await coordinator.close();
  return { report, weights };
}

const digest = (w: WeightArrays) => {
  const h = createHash('sha256');
  for (const a of w) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};

async function sameOverBothTransports(config: Partial<RunConfigInput>, dropAt?: Record<string, SecAggSendPhase>): Promise<{ socket: RunReport; memory: RunReport }> {
  const socket = await federation('socket', config, dropAt);
  const memory = await federation('memory', config, dropAt);
  expect(socket.report.status, socket.report.aborted).toBe('complete');
  expect(memory.report.status, memory.report.aborted).toBe('complete');
  expect(socket.report.rounds.map((r) => r.accepted.map((a) => a.siteId))).toEqual(memory.report.rounds.map((r) => r.accepted.map((a) => a.siteId)));
  expect(digest(socket.weights)).toBe(digest(memory.weights));
  expect(socket.report.final!.accuracy).toBe(memory.report.final!.accuracy);
  return { socket: socket.report, memory: memory.report };
}

describe(`${SITES} sites over socket.io reach the same model as in memory`, () => {
  it('plain FedAvg (streaming, with the poisoning-safe defaults)', async () => {
    const { socket } = await sameOverBothTransports({});
    expect(socket.rounds.every((r) => r.accepted.length === SITES)).toBe(true);
    expect(socket.final!.accuracy).toBeGreaterThan(socket.pretrained!.accuracy);
  }, 600_000);

  it('a robust strategy (Multi-Krum, f = 3)', async () => {
    const { socket } = await sameOverBothTransports({ strategy: 'multikrum', strategyOptions: { f: 3 } });
    expect(socket.rounds.every((r) => r.accepted.length === SITES)).toBe(true);
  }, 600_000);

  it('secure aggregation with 30% of the sites dropping, spread over every phase', async () => {
    // 6 of 20: two before advertising their keys, two before sharing them, one before its masked input,
    // one before answering the unmask request (its masked input is in the sum; its self-mask is recovered).
    const dropAt: Record<string, SecAggSendPhase> = {
      'site-2': 'advertise',
      'site-5': 'advertise',
      'site-8': 'share-keys',
      'site-11': 'share-keys',
      'site-14': 'masked-input',
      'site-17': 'unmask',
    };
    const { socket } = await sameOverBothTransports({ secureAggregation: { clip: 1 }, quorum: 0.5 }, dropAt);
    const first = socket.rounds[0];
    const inSum = first.accepted.map((a) => a.siteId);
    for (const id of ['site-2', 'site-5', 'site-8', 'site-11', 'site-14']) expect(inSum).not.toContain(id);
    expect(inSum).toContain('site-17');
    expect(inSum).toHaveLength(15);
  }, 600_000);

  it('model versions and sampled evaluation: weights are not re-sent to sites that hold them, and the model is the same as when they are', async () => {
    const config: Partial<RunConfigInput> = { rounds: 3, federatedEvaluation: 'every-round', evaluationFraction: 0.5 };
    const wire: WireInstruction[] = [];
    const socket = await federation('socket', config, {}, wire);
    // The same federation in memory with cross-device sites: every instruction carries the weights.
    const resent: WireInstruction[] = [];
    const memory = await federation('memory', { ...config, sitesKeepModel: false }, {}, resent);
    expect(socket.report.status, socket.report.aborted).toBe('complete');
    expect(memory.report.status, memory.report.aborted).toBe('complete');
    expect(digest(socket.weights)).toBe(digest(memory.weights));
    expect(resent.every((i) => i.weights)).toBe(true);
    const ids = (event: WireInstruction['event'], round: number, weights?: boolean) =>
      wire.filter((i) => i.event === event && i.round === round && (weights === undefined || i.weights === weights)).map((i) => i.siteId).sort();
    for (const round of [1, 2, 3]) {
      // Half the sites evaluate each version, and each version is new to them.
      expect(ids('evaluate', round)).toHaveLength(SITES / 2);
      expect(ids('evaluate', round, false)).toEqual([]);
      expect(socket.report.rounds[round - 1].federated!.sites.map((s) => s.siteId).sort()).toEqual(ids('evaluate', round));
    }
    expect(ids('fit', 1, false)).toEqual([]);
    // From round 2, exactly the sites that evaluated the previous version get their fit without weights.
    for (const round of [2, 3]) expect(ids('fit', round, false)).toEqual(ids('evaluate', round - 1));
    expect(socket.report.rounds[1].bytesDown).toBeLessThan(memory.report.rounds[1].bytesDown);
  }, 600_000);

  it('client-level DP (DP-FedAvg with seeded noise)', async () => {
    const { socket } = await sameOverBothTransports({ dp: { noiseMultiplier: 0.3, clip: 1, noiseSeed: 5 } });
    expect(socket.privacy?.epsilon).toBeGreaterThan(0);
    expect(socket.rounds.every((r) => r.accepted.length === SITES)).toBe(true);
  }, 600_000);
});
