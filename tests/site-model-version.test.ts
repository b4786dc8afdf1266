import * as tf from '@tensorflow/tfjs';
import { scriptedTerms } from './helpers/scripted-terms.ts';
import { describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights, MemoryNetwork, modelManifest, modelTopology, PROTOCOL_VERSION, readModelWeights, SiteClient, splitDataset, type SiteLink } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData, tinyModel } from './access/helpers.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

/**
 * The site's side of model versions and cross-device mode, with a real SiteClient (real tfjs training) and
 * a scripted coordinator on the in-memory network: it holds the version it evaluated and trains from it when
 * a fit comes without weights, refuses a fit without weights for a version it does not hold, and with
 * dropModel keeps no tensors between instructions.
 */

type Instruction = { event: 'fit' | 'evaluate'; payload: Record<string, unknown> };
type Answer = { event: string; payload: Record<string, any>; tensors: number };

const train = { epochs: 1, batchSize: 8, learningRate: 0.05, optimizer: 'sgd', trainable: 'all', seed: 4 } as const;

let global: { bytes: Uint8Array; topology: Record<string, unknown> } | undefined;

async function scripted(script: (bytes: Uint8Array) => Instruction[], completes = true): Promise<Answer[]> {
  const backend = await selectNodeBackend();
  // One initial model for the whole file, so runs can be compared.
  global ??= (() => {
    const model = tinyModel();
    const made = { bytes: encodeWeights(readModelWeights(model)), topology: { runId: 'r', modelVersion: 0, topology: modelTopology(model), manifest: modelManifest(model) } };
    model.dispose();
    return made;
  })();
  const { bytes, topology } = global;
  const instructions = script(bytes);
  const network = new MemoryNetwork();
  const answers: Answer[] = [];
  network.serverTransport().onConnection((link: SiteLink) => {
    const next = () => {
      const i = instructions.shift();
      if (!i) return link.send('complete', { runId: 'r', rounds: 1 });
      link.send(i.event, i.payload as never);
    };
    link.onMessage((m) => {
      if (m.event === 'hello') {
        link.send('welcome', { protocol: PROTOCOL_VERSION, runId: 'r', siteId: m.payload.siteId });
        // The site joins under the run's terms (docs/site-policy.md): these allow every instruction below.
        link.send('terms', scriptedTerms({ runId: 'r', rounds: 5, topology: topology.topology as never, manifest: topology.manifest as never, train, federatedEvaluation: 'every-round' }));
        return;
      }
      if (m.event === 'acceptTerms') {
        link.send('model', topology as never);
        return next();
      }
      if (m.event === 'heartbeat') return;
      // Counted once the site has answered (and, with dropModel, dropped its model).
      setTimeout(() => {
        answers.push({ event: m.event, payload: m.payload as Record<string, any>, tensors: tf.memory().numTensors });
        next();
      }, 20);
    });
  });
  const client = new SiteClient({ policy: testSitePolicy(), siteId: 'site-a', connector: network.connector(), data: splitDataset(tinyData(60, 2), 1), backend: backend.backend, runtime: 'node' });
  const outcome = await client.run();
  expect(outcome.completed, outcome.reason).toBe(completes);
  return answers;
}

const fit = (round: number, modelVersion: number, extra: Record<string, unknown> = {}): Instruction => ({ event: 'fit', payload: { runId: 'r', round, modelVersion, config: train, ...extra } });
const evaluate = (round: number, modelVersion: number, extra: Record<string, unknown> = {}): Instruction => ({ event: 'evaluate', payload: { runId: 'r', round, modelVersion, ...extra } });

describe('site: model versions', () => {
  it('says which version it holds after evaluating, and trains from it the same as from sent weights', async () => {
    const withWeights = await scripted((w) => [evaluate(1, 1, { weights: w }), fit(2, 1, { weights: w })]);
    const fromHeld = await scripted((w) => [evaluate(1, 1, { weights: w }), fit(2, 1)]);
    expect(withWeights[0].payload.heldModelVersion).toBe(1);
    expect(fromHeld[0].payload.heldModelVersion).toBe(1);
    expect(fromHeld[1].event).toBe('fitResult');
    expect(Array.from(decodeWeights(fromHeld[1].payload.weights).arrays[0])).toEqual(Array.from(decodeWeights(withWeights[1].payload.weights).arrays[0]));
  });

  it.each<[string, (w: Uint8Array) => Instruction[]]>([
    ['never sent', () => [fit(1, 0)]],
    ['another version than it holds', (w) => [evaluate(1, 1, { weights: w }), fit(2, 2)]],
    ['the version it held before training changed its model', (w) => [evaluate(1, 1, { weights: w }), fit(2, 1), fit(2, 1)]],
  ])('refuses a fit without weights for a version %s (not_found), and goes on', async (_, script) => {
    const answers = await scripted((w) => [...script(w), evaluate(5, 5, { weights: w })]);
    const failure = answers.at(-2)!;
    expect(failure.event).toBe('siteFailure');
    expect(failure.payload.code).toBe('not_found');
    expect(failure.payload.reason).toMatch(/does not hold model version/);
    expect(answers.at(-1)!.event).toBe('evaluateResult');
  });

  it('a fit for another run is refused by the site policy check (policy_refused) and the site leaves', async () => {
    const answers = await scripted((w) => [evaluate(1, 1, { weights: w }), { event: 'fit', payload: { ...fit(2, 1).payload, runId: 'other' } }, evaluate(5, 5, { weights: w })], false);
    const failure = answers.at(-1)!;
    expect(failure.event).toBe('siteFailure');
    expect(failure.payload.code).toBe('policy_refused');
    expect(failure.payload.reason).toMatch(/another run than the accepted terms' r/);
    expect(answers.map((a) => a.event)).toEqual(['evaluateResult', 'siteFailure']);
  });

  it('dropModel: no tensors kept between instructions, no version claimed, and the next instruction rebuilds the model', async () => {
    const baseline = tf.memory().numTensors;
    const answers = await scripted((w) => [evaluate(1, 1, { weights: w, dropModel: true }), fit(2, 1, { weights: w, dropModel: true }), evaluate(2, 2, { weights: w, dropModel: true }), evaluate(3, 3, { weights: w })]);
    expect(answers.map((a) => a.event)).toEqual(['evaluateResult', 'fitResult', 'evaluateResult', 'evaluateResult']);
    expect(answers[0].payload.heldModelVersion).toBeUndefined();
    for (const a of answers.slice(0, 3)) expect(a.tensors).toBe(baseline);
    // Without dropModel the site keeps its model (its variables stay) and says which version it holds.
    expect(answers[3].tensors).toBeGreaterThan(baseline);
    expect(answers[3].payload.heldModelVersion).toBe(3);
    // And once the run is over the client has disposed everything.
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
