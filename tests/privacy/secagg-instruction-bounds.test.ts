import { createServer } from 'node:http';
import { scriptedTerms } from '../helpers/scripted-terms.ts';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { afterEach, expect, it } from 'vitest';
import { secAggInstruction } from '@fedtune/coordinator';
import {
  deriveSeed,
  encodeWeights,
  MAX_FEDERATION_SITES,
  MAX_SECAGG_VECTOR_LENGTH,
  modelManifest,
  modelTopology,
  packBinaryFields,
  readModelWeights,
  SecureAggInstruction,
  SiteClient,
  socketIoConnector,
  splitDataset,
  type SiteEvent,
} from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData, tinyModel } from '../access/helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/**
 * A hostile coordinator on a real socket.io server (port 0): welcomes the site, sends the tiny model and one
 * 'fit' whose secure-aggregation instruction `tamper` rewrites. Records what the site sends back.
 */
async function hostileCoordinator(tamper: (instruction: SecureAggInstruction) => unknown) {
  await selectNodeBackend();
  const http = createServer();
  const io = new Server(http);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => void io.close(() => r())));
  const received: Array<{ event: string; payload: Record<string, unknown> }> = [];
  const model = tinyModel();
  const { manifest, arrays } = readModelWeights(model);
  const parameterCount = arrays.reduce((n, a) => n + a.length, 0);
  io.on('connection', (socket: Socket) => {
    socket.onAny((event: string, payload: Record<string, unknown>) => {
      received.push({ event, payload });
      const siteId = payload.siteId as string;
      if (event === 'hello') {
        socket.emit('welcome', { protocol: 1, runId: 'r', siteId });
        // The site joins under terms (docs/site-policy.md) that match the honest instruction; the tampering is its own check's.
        socket.emit('terms', scriptedTerms({ runId: 'r', rounds: 1, topology: modelTopology(model), manifest, train: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all' }, initialWeights: encodeWeights({ manifest, arrays }), secureAggregation: { clip: 1 } }));
        return;
      }
      if (event !== 'acceptTerms') return;
      socket.emit('model', { runId: 'r', modelVersion: 0, topology: modelTopology(model), manifest: modelManifest(model) });
      const honest = secAggInstruction(1, [siteId, 'other-a', 'other-b'], 2, parameterCount, { clip: 1 } as never, 100);
      socket.emit(
        'fit',
        packBinaryFields({
          runId: 'r',
          round: 1,
          modelVersion: 0,
          weights: encodeWeights({ manifest, arrays }),
          config: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 1 },
          secureAggregation: tamper(honest),
        }),
      );
    });
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, received, parameterCount };
}

async function runSite(url: string): Promise<SiteEvent[]> {
  const backend = await selectNodeBackend();
  const events: SiteEvent[] = [];
  const client = new SiteClient({
    policy: testSitePolicy(),
    siteId: 'site-a',
    connector: socketIoConnector({ url }),
    data: splitDataset(tinyData(60, 2), deriveSeed(1, 'split', 'site-a')),
    backend: backend.backend,
    runtime: 'node',
    heartbeatMs: 200,
    onEvent: (e) => events.push(e),
  });
  void client.run().catch(() => undefined);
  closers.push(async () => client.stop());
  return events;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Issue 11: what a coordinator sends that a site would allocate memory or spend work for is bounded in the
// schema and checked against the site's own model before the site trains or advertises anything.
it('a site refuses an instruction whose vector length is not its model parameter count, before training or advertising', async () => {
  const coordinator = await hostileCoordinator((i) => ({ ...i, vectorLength: i.vectorLength + 1 }));
  const events = await runSite(coordinator.url);
  await until(() => coordinator.received.some((m) => m.event === 'siteFailure'), 'a siteFailure');
  const failure = coordinator.received.find((m) => m.event === 'siteFailure')!.payload;
  expect(failure).toMatchObject({ code: 'shape_mismatch', reason: expect.stringMatching(new RegExp(`expects updates of ${coordinator.parameterCount + 1} values.*has ${coordinator.parameterCount} parameters`)) });
  expect(coordinator.received.map((m) => m.event)).not.toContain('secaggAdvertise');
  expect(events.map((e) => e.type)).not.toContain('fit-progress');
});

it.each([
  ['a threshold that no neighbourhood can meet', (i: SecureAggInstruction) => ({ ...i, threshold: 1 }), /threshold/],
  ['an instruction that does not invite the site', (i: SecureAggInstruction) => ({ ...i, sites: ['other-a', 'other-b', 'other-c'] }), /not among the round's invited sites/],
  ['a fixed-point scale that can overflow the sum', (i: SecureAggInstruction) => ({ ...i, fixedPoint: { range: 16, maxTotalWeight: 1, scale: 2 ** 30 } }), /could overflow/],
])('a site refuses %s', async (_what, tamper, reason) => {
  const coordinator = await hostileCoordinator(tamper);
  const events = await runSite(coordinator.url);
  await until(() => coordinator.received.some((m) => m.event === 'siteFailure'), 'a siteFailure');
  expect(coordinator.received.find((m) => m.event === 'siteFailure')!.payload).toMatchObject({ code: expect.stringMatching(/^(malformed_payload|not_selected)$/), reason: expect.stringMatching(reason) });
  expect(coordinator.received.map((m) => m.event)).not.toContain('secaggAdvertise');
  // Refused before any training was spent on it.
  expect(events.map((e) => e.type)).not.toContain('fit-progress');
});

it('bounds the sizes in a secure-aggregation instruction in its schema', () => {
  const valid = secAggInstruction(1, ['a', 'b', 'c'], 2, 10, { clip: 1 } as never, 100);
  expect(SecureAggInstruction.safeParse(valid).success).toBe(true);
  const refused = (patch: Record<string, unknown>) => SecureAggInstruction.safeParse({ ...valid, ...patch }).success === false;
  expect(refused({ vectorLength: MAX_SECAGG_VECTOR_LENGTH + 1 })).toBe(true);
  expect(refused({ vectorLength: 1e15 })).toBe(true);
  expect(refused({ threshold: 4 })).toBe(true); // more than the invited sites
  expect(refused({ threshold: MAX_FEDERATION_SITES + 1 })).toBe(true);
  expect(refused({ neighbours: MAX_FEDERATION_SITES + 1 })).toBe(true);
  expect(refused({ sites: ['a', 'a', 'b'] })).toBe(true);
  expect(refused({ fixedPoint: { ...valid.fixedPoint, scale: 2 ** 40 } })).toBe(true);
  expect(refused({ clip: 1e300 })).toBe(true);
  expect(refused({ weightDenominator: 1e300 })).toBe(true);
});
