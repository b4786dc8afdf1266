import { testSitePolicy } from '../helpers/test-site-policy.ts';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinatorIdentity } from '@fedtune/coordinator';
import { canonicalHash, deriveSeed, modelFromTopology, SiteClient, socketIoConnector, splitDataset, type RunTerms, type SiteEvent, type SiteLink, type SitePolicyInput } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData } from '../access/helpers.ts';
import { policy, signed, terms } from './terms-fixture.ts';
import { hostileCoordinator, realModelRun } from './redteam-harness.ts';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function siteAgainst(signedTerms: ReturnType<typeof signed>, script: (link: SiteLink) => void, sitePolicy: SitePolicyInput = {}) {
  const fake = await hostileCoordinator(signedTerms, (link) => script(link));
  closers.push(fake.close);
  const events: SiteEvent[] = [];
  const backend = await selectNodeBackend();
  const client = new SiteClient({
    siteId: 'site-a',
    connector: socketIoConnector({ url: fake.url }),
    data: splitDataset(tinyData(30, 3), deriveSeed(1, 'split', 'site-a')),
    backend: backend.backend,
    runtime: 'node',
    policy: testSitePolicy(sitePolicy),
    // A site that refused must not come back, even with retries allowed.
    reconnect: { retries: 3, baseDelayMs: 50 },
    onEvent: (e) => events.push(e),
  });
  const outcome = await client.run();
  return { outcome, events, received: fake.received };
}

const dpTerms = terms((t) => (t.train.dpSgd = { clip: 1, noiseMultiplier: 1.1 }));
const fitOf = (t: RunTerms, round: number, config: Record<string, unknown> = {}) => ({
  runId: t.runId,
  round,
  modelVersion: round - 1,
  config: { ...structuredClone(t.train), seed: 7, ...config },
});

const SMALL_TOPOLOGY = { class_name: 'Sequential', config: { name: 'small', layers: [] } };

describe('a site refuses a coordinator that departs from its terms (real socket.io, real SiteClient)', () => {
  const cases: Array<[string, RunTerms, (t: RunTerms) => [string, unknown], RegExp]> = [
    ['changed epochs', terms(), (t) => ['fit', fitOf(t, 1, { epochs: t.train.epochs + 3 })], /epochs 2 → 5/],
    ['DP-SGD switched off', dpTerms, (t) => ['fit', { ...fitOf(t, 1), config: { ...fitOf(t, 1).config, dpSgd: undefined } }], /dpSgd \{.*\} → \(absent\)/],
    ['an extra round', terms(), (t) => ['fit', fitOf(t, t.rounds + 1)], /fit for round 6, outside the terms' rounds 1\.\.5/],
    ['a different (crafted) model topology', terms(), (t) => ['model', { runId: t.runId, modelVersion: 0, topology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { units: 4096 } }] } }, manifest: [] }], /the model topology .* is not the one of the terms/],
    // The terms' topology (its hash matches), but a manifest of 10^10 parameters where the terms (which the policy judged) announced 1000:
    // refused before the model is built.
    [
      'the terms\' model with a larger manifest',
      terms((t) => (t.model.topologyHash = canonicalHash(SMALL_TOPOLOGY))),
      (t) => ['model', { runId: t.runId, modelVersion: 0, topology: SMALL_TOPOLOGY, manifest: [{ name: 'dense/kernel', shape: [100_000, 100_000], dtype: 'float32' }] }],
      /the model's manifest holds 10000000000 parameters, the terms 1000/,
    ],
    [
      '100,000 local-only epochs in the site report where the terms state 10',
      terms((t) => (t.siteReport = { localOnlyEpochs: 10 })),
      (t) => ['siteReport', { runId: t.runId, round: t.rounds, modelVersion: t.rounds, weights: new Uint8Array(8), train: { ...structuredClone(t.train), seed: 1 }, localOnlyEpochs: 100_000 }],
      /changed terms: the site report's localOnlyEpochs 10 → 100000/,
    ],
    ['an evaluation the terms do not include', terms((t) => (t.federatedEvaluation = 'never')), (t) => ['evaluate', { runId: t.runId, round: 1, modelVersion: 1 }], /no federated evaluation/],
  ];

  it.each(cases)('%s: refused with policy_refused on both sides, and the site leaves for good', async (_n, t, instruction, pattern) => {
    const s = signed(t);
    let connections = 0;
    const { outcome, events, received } = await siteAgainst(s, (link) => {
      connections++;
      const [event, payload] = instruction(t);
      link.sendUnchecked(event, payload);
    });
    // The site accepted the terms, then refused the instruction: a siteFailure naming the reason reached the coordinator.
    expect(received.find((m) => m.event === 'acceptTerms')?.payload).toEqual({ runId: t.runId, siteId: 'site-a', hash: s.hash });
    const failure = received.find((m) => m.event === 'siteFailure')?.payload;
    expect(failure?.code).toBe('policy_refused');
    expect(String(failure?.reason)).toMatch(pattern);
    expect(String(failure?.reason)).not.toMatch(/\n/);
    // ... and on the site's side.
    const refused = events.find((e) => e.type === 'refused-terms');
    expect(refused && 'reason' in refused ? refused.reason : '').toMatch(pattern);
    expect(outcome.completed).toBe(false);
    expect(outcome.reason).toMatch(/^policy_refused: /);
    expect(outcome.roundsTrained).toBe(0);
    // Never reconnected (retries were allowed).
    expect(connections).toBe(1);
    expect(received.filter((m) => m.event === 'hello')).toHaveLength(1);
  });

  it('an instruction as agreed is not refused by the policy (the control case)', async () => {
    const t = terms();
    const s = signed(t);
    const { received, events } = await siteAgainst(s, (link) => {
      // No model yet: the site fails this fit for that reason, not for its policy; then the run completes.
      link.sendUnchecked('fit', fitOf(t, 1));
      setTimeout(() => link.send('complete', { runId: t.runId, rounds: 1 }), 300);
    });
    const failure = received.find((m) => m.event === 'siteFailure')?.payload;
    expect(failure?.code).not.toBe('policy_refused');
    expect(events.some((e) => e.type === 'refused-terms')).toBe(false);
    expect(events.some((e) => e.type === 'complete')).toBe(true);
  });

  it('forged terms (signed by another key than the one they name) are refused at join, with the reason sent back', async () => {
    const t = terms();
    const forged = signed(t, CoordinatorIdentity.generate());
    let instructed = 0;
    const { outcome, received, events } = await siteAgainst(forged, () => instructed++);
    expect(instructed).toBe(0);
    const refusal = received.find((m) => m.event === 'refuseTerms')?.payload;
    expect(refusal).toMatchObject({ runId: t.runId, siteId: 'site-a', code: 'policy_refused' });
    expect(String(refusal?.reason)).toMatch(/signature is not coordinator/);
    expect(events.find((e) => e.type === 'refused-terms')).toMatchObject({ reason: expect.stringMatching(/signature/) });
    expect(outcome).toMatchObject({ completed: false, reason: expect.stringMatching(/^policy_refused: .*signature/) });
  });

  it('terms from a coordinator key the policy does not list are refused', async () => {
    const t = terms();
    const { received } = await siteAgainst(signed(t), () => {}, { coordinators: [CoordinatorIdentity.generate().publicKey] });
    expect(String(received.find((m) => m.event === 'refuseTerms')?.payload.reason)).toMatch(/not one of the policy's coordinators/);
  });

  // The terms name this topology (its hash) and a manifest of 1,000 parameters, as does the 'model' message; but
  // the topology's one Dense layer has 10^8 units on the site's 4 features: 1.6 GB of weights to allocate and
  // initialise. The site counts the weights as its layers make them and refuses the model before allocating them.
  it.each([
    ['a layer far larger than the manifest', 100_000_000, 'shape_mismatch', /more weights than the manifest's 1000 parameters \(at kernel, shape \[4,100000000\]\): refused before allocating them/],
    ['a layer one unit larger than the manifest', 201, 'shape_mismatch', /more weights than the manifest's 1000 parameters .*refused before allocating them/],
  ] as const)('a model whose topology builds more weights than its manifest (%s): refused before they are allocated', async (_n, units, code, pattern) => {
    const topology = { class_name: 'Sequential', config: { name: 'big', layers: [{ class_name: 'Dense', config: { name: 'dense', units, use_bias: true, activation: 'linear', batch_input_shape: [null, 4] } }] } };
    const t = terms((x) => (x.model.topologyHash = canonicalHash(topology)));
    const manifest = [{ name: 'dense/kernel', shape: [4, 200], dtype: 'float32' }, { name: 'dense/bias', shape: [200], dtype: 'float32' }];
    await selectNodeBackend();
    const before = tf.memory().numBytes;
    const { received, events } = await siteAgainst(signed(t), (link) => {
      link.sendUnchecked('model', { runId: t.runId, modelVersion: 0, topology, manifest });
      link.sendUnchecked('fit', fitOf(t, 1));
      setTimeout(() => link.send('complete', { runId: t.runId, rounds: 1 }), 300);
    });
    // What the layers before the refused weight made is all that was allocated: here, nothing.
    expect(tf.memory().numBytes - before).toBeLessThan(4 * 1000);
    // The site refuses the model (its event says why), holds none, and so trains nothing.
    const refusals = events.flatMap((e) => (e.type === 'rejected' ? [`${e.code}: ${e.reason}`] : []));
    expect(refusals).toContainEqual(expect.stringMatching(new RegExp(`^${code}: .*${pattern.source}`)));
    expect(received.filter((m) => m.event === 'fitResult')).toHaveLength(0);
    expect(received.find((m) => m.event === 'siteFailure')?.payload.code).toBe('not_found');
    // The limit is lifted after the build: the same topology, unlimited, builds (a size that fits the test).
    const ok = await modelFromTopology({ ...topology, config: { ...topology.config, layers: [{ ...topology.config.layers[0], config: { ...topology.config.layers[0].config, units: 300 } }] } });
    expect(ok.countParams()).toBe(4 * 300 + 300);
    ok.dispose();
  });

  // A topology of 6 weights whose UpSampling2D makes 4·a·b activations per example: terms, manifest and initial
  // weights all as agreed, so only the count of the built model's activations can refuse it (the site's policy,
  // model.maxActivationsPerExample). An UpSampling2D of 1200 × 12000 trained here before: 1.3 GB resident, then a
  // wasm "memory access out of bounds" in the fit.
  async function upsamplingRun(a: number, b: number) {
    const { t, topology, manifest, weights } = await realModelRun(undefined, () => [tf.layers.reshape({ inputShape: [4], targetShape: [2, 2, 1] }), tf.layers.upSampling2d({ size: [a, b] }), tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 3 })]);
    const script = (link: SiteLink) => {
      link.sendUnchecked('model', { runId: t.runId, modelVersion: 0, topology, manifest });
      link.sendUnchecked('fit', { ...fitOf(t, 1), weights });
      setTimeout(() => link.send('complete', { runId: t.runId, rounds: 1 }), 1_500);
    };
    return { t, script, activations: 4 + 4 * a * b + 1 + 3 };
  }

  it('a model of a few weights and 4,000,008 activations per example (UpSampling2D 1000 × 1000): refused when it arrives, under the default policy', async () => {
    await selectNodeBackend();
    const { t, script, activations } = await upsamplingRun(1000, 1000);
    expect(activations).toBe(4_000_008);
    const before = tf.memory().numBytes;
    const { outcome, received, events } = await siteAgainst(signed(t), script);
    const failure = received.find((m) => m.event === 'siteFailure')?.payload;
    expect(failure).toMatchObject({ code: 'policy_refused', round: 0 });
    expect(String(failure?.reason)).toBe('refused "model": the model\'s layers output 4000008 values per example, more than the policy\'s model.maxActivationsPerExample 262144');
    expect(events.find((e) => e.type === 'refused-terms')).toMatchObject({ reason: failure?.reason });
    expect(outcome).toMatchObject({ completed: false, roundsTrained: 0 });
    expect(received.filter((m) => m.event === 'fitResult')).toHaveLength(0);
    expect(tf.memory().numBytes - before, 'the refused model was disposed').toBeLessThan(1_000);
  });

  it.each([
    ['at exactly the model\'s count: trained', 408, true],
    ['one below it: refused', 407, false],
    ['the default (2^18): trained', undefined, true],
  ] as const)('model.maxActivationsPerExample %s (UpSampling2D 10 × 10: 408 per example)', async (_n, limit, trained) => {
    const { t, script, activations } = await upsamplingRun(10, 10);
    expect(activations).toBe(408);
    const { received } = await siteAgainst(signed(t), script, limit === undefined ? {} : { model: { maxActivationsPerExample: limit } });
    expect(received.filter((m) => m.event === 'fitResult')).toHaveLength(trained ? 1 : 0);
    const failure = received.find((m) => m.event === 'siteFailure')?.payload;
    if (trained) expect(failure).toBeUndefined();
    else expect(String(failure?.reason)).toMatch(/output 408 values per example, more than the policy's model\.maxActivationsPerExample 407$/);
  });

  it('a fit whose model reference names more bytes than the site\'s model can take is refused before anything is fetched', async () => {
    const topology = { class_name: 'Sequential', config: { name: 'ok', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 200, use_bias: true, activation: 'linear', batch_input_shape: [null, 4] } }] } };
    const t = terms((x) => (x.model.topologyHash = canonicalHash(topology)));
    const manifest = [{ name: 'dense/kernel', shape: [4, 200], dtype: 'float32' }, { name: 'dense/bias', shape: [200], dtype: 'float32' }];
    const { received } = await siteAgainst(signed(t), (link) => {
      link.sendUnchecked('model', { runId: t.runId, modelVersion: 0, topology, manifest });
      link.sendUnchecked('fit', { ...fitOf(t, 2), modelVersion: 1, modelRef: { path: '/api/v1/models/1/weights', sha256: 'a'.repeat(64), bytes: 2 ** 32 } });
      setTimeout(() => link.send('complete', { runId: t.runId, rounds: 1 }), 300);
    });
    const failure = received.find((m) => m.event === 'siteFailure')?.payload;
    expect(failure?.code).toBe('model_integrity');
    expect(String(failure?.reason)).toMatch(new RegExp(`references 4294967296 bytes of weights, more than the ${4 * 1000 + 16 * 1024 * 1024 + 4096} this site's model of 1000 parameters can take: refused before fetching`));
  });

  it('pinned model: the right topology is accepted and the model built', async () => {
    // The control for the crafted-model case: a hash the policy pins and a 'model' that matches it.
    const topology = { class_name: 'Sequential', config: { name: 'x', layers: [] } };
    // An empty model: no parameters, as its terms say.
    const t = terms((x) => {
      x.model.topologyHash = canonicalHash(topology);
      x.model.parameters = 0;
    });
    const { received } = await siteAgainst(signed(t), (link) => {
      link.sendUnchecked('model', { runId: t.runId, modelVersion: 0, topology, manifest: [] });
      setTimeout(() => link.send('complete', { runId: t.runId, rounds: 1 }), 300);
    }, { model: { hashes: [canonicalHash(topology)] } });
    expect(received.some((m) => m.event === 'refuseTerms')).toBe(false);
    expect(received.filter((m) => m.event === 'siteFailure' && m.payload.code === 'policy_refused')).toHaveLength(0);
  });
});
