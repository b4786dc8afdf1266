import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import * as tf from '@tensorflow/tfjs';
import { socketIoServerTransport } from '@fedtune/coordinator';
import { canonicalHash, deriveSeed, encodeWeights, modelManifest, modelTopology, PROTOCOL_VERSION, sha256Hex, totalParameters, SiteClient, socketIoConnector, splitDataset, type RunTerms, type SiteEvent, type SiteLink, type SiteOutcome, type SitePolicyInput, type Splits } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData } from '../access/helpers.ts';
import { signed, terms } from './terms-fixture.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/**
 * A hostile coordinator over a real socket.io server against a real SiteClient: it welcomes the site, sends
 * `signedTerms`, and on 'acceptTerms' plays `script`. Records every message the site sent.
 */
export async function hostileCoordinator(signedTerms: ReturnType<typeof signed>, script: (link: SiteLink, received: Received[]) => void) {
  const http = createServer();
  const io = new Server(http, { maxHttpBufferSize: 50_000_000 });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const received: Received[] = [];
  const transport = socketIoServerTransport(io);
  transport.onConnection((link) => {
    link.onMessage((m) => {
      received.push({ event: m.event, payload: m.payload as Record<string, unknown> });
      if (m.event === 'hello') {
        link.send('welcome', { protocol: PROTOCOL_VERSION, runId: signedTerms.terms.runId, siteId: m.payload.siteId });
        link.send('terms', signedTerms);
      }
      if (m.event === 'acceptTerms') script(link, received);
    });
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return { url, received, close: () => transport.close() };
}

export type Received = { event: string; payload: Record<string, unknown> };

export interface SiteRun {
  client: SiteClient;
  outcome: Promise<SiteOutcome>;
  events: SiteEvent[];
  received: Received[];
  close: () => Promise<void> | void;
}

/** A real site (SiteClient over socket.io) against the hostile coordinator; the caller awaits `outcome` and closes. */
export async function siteAgainst(
  signedTerms: ReturnType<typeof signed>,
  script: (link: SiteLink, received: Received[]) => void,
  options: { policy?: SitePolicyInput; onEvent?: (e: SiteEvent) => void; data?: Splits } = {},
): Promise<SiteRun> {
  const fake = await hostileCoordinator(signedTerms, script);
  const events: SiteEvent[] = [];
  const backend = await selectNodeBackend();
  const client = new SiteClient({
    siteId: 'site-a',
    connector: socketIoConnector({ url: fake.url }),
    data: options.data ?? splitDataset(tinyData(30, 3), deriveSeed(1, 'split', 'site-a')),
    backend: backend.backend,
    runtime: 'node',
    policy: testSitePolicy(options.policy),
    reconnect: { retries: 0 },
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  return { client, outcome: client.run(), events, received: fake.received, close: fake.close };
}

/** A small real model (4 features → 3 classes), with terms that name it exactly (topology, parameters, initial weights). */
export async function realModelRun(change: (t: RunTerms) => void = () => {}, layers?: () => tf.layers.Layer[]) {
  await selectNodeBackend();
  const model = tf.sequential({ layers: layers ? layers() : [tf.layers.dense({ inputShape: [4], units: 3 })] });
  const topology = modelTopology(model);
  const manifest = modelManifest(model);
  const weights = encodeWeights({ manifest, arrays: model.getWeights().map((w) => w.dataSync() as Float32Array) });
  model.dispose();
  const t = terms((x) => {
    x.model.topologyHash = canonicalHash(topology);
    x.model.parameters = totalParameters(manifest);
    x.model.initialWeightsHash = sha256Hex(weights);
    x.train.epochs = 1;
    change(x);
  });
  return { t, topology, manifest, weights, modelMessage: { runId: t.runId, modelVersion: 0, topology, manifest } };
}

export const fitOf = (t: RunTerms, round: number, extra: Record<string, unknown> = {}) => ({
  runId: t.runId,
  round,
  modelVersion: round - 1,
  config: { ...structuredClone(t.train), seed: 7 },
  ...extra,
});

/** Resolves when `check` holds, polling; rejects after `ms`. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export { signed, terms };
