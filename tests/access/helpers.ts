import * as tf from '@tensorflow/tfjs';
import { startCoordinator, type RunningCoordinator, type StartCoordinatorOptions } from '@fedtune/coordinator';
import { PROTOCOL_VERSION, SeededRandom, socketIoConnector, type CoordinatorLink, type Dataset, type MessageOf, type ServerToClient } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { messageInbox } from '../helpers/message-inbox.ts';

export { tempDir };

/** 4 features, 3 classes: the label is the argmax of the first three features. Learnable in a round. */
export function tinyData(n: number, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) x[i * 4 + j] = rng.next();
    const row = [x[i * 4], x[i * 4 + 1], x[i * 4 + 2]];
    y[i] = row.indexOf(Math.max(...row));
  }
  return { x, y, featureShape: [4], numClasses: 3 };
}

export function tinyModel(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
}

/** A coordinator on loopback with the tiny model (socket transport unless given). */
export async function startTinyCoordinator(
  options: Partial<StartCoordinatorOptions> & { runId: string; minSites?: number; rounds?: number },
): Promise<RunningCoordinator> {
  const backend = await selectNodeBackend();
  const { runId, minSites, rounds, config, ...rest } = options;
  return startCoordinator({
    runsDir: tempDir('fedtune-access-'),
    model: tinyModel(),
    architecture: 'tiny',
    holdout: tinyData(60, 99),
    backend: backend.backend,
    transport: 'socket',
    checkpoints: false,
    config: {
      runId,
      rounds: rounds ?? 1,
      minSites: minSites ?? 1,
      seed: 1,
      roundTimeoutMs: 20_000,
      joinTimeoutMs: 30_000,
      federatedEvaluation: 'never',
      train: { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all' },
      ...config,
    },
    ...rest,
  });
}

/** A hand-driven site connection: records every message from the coordinator. */
export interface RawSite {
  link: CoordinatorLink;
  messages: Array<MessageOf<ServerToClient>>;
  closed: Promise<string>;
  /** The site id of its hello: it accepts the run's terms as this site. */
  siteId?: string;
  next<E extends keyof ServerToClient & string>(event: E, timeoutMs?: number): Promise<ServerToClient[E]>;
}

export async function rawSite(url: string, extra: { ca?: string } = {}): Promise<RawSite> {
  const link = await socketIoConnector({ url, ca: extra.ca, connectTimeoutMs: 5_000 }).connect();
  const inbox = messageInbox<MessageOf<ServerToClient>>();
  const self = { siteId: undefined as string | undefined };
  link.onMessage((m) => {
    inbox.push(m);
    // An honest raw site accepts the run's terms (docs/site-policy.md#join) as the one it said hello as.
    if (m.event === 'terms' && self.siteId) link.send('acceptTerms', { runId: m.payload.terms.runId, siteId: self.siteId, hash: m.payload.hash });
  });
  const closed = new Promise<string>((resolve) => link.onClose(resolve));
  return {
    link,
    messages: inbox.messages,
    closed,
    set siteId(id: string | undefined) {
      self.siteId = id;
    },
    // Returns the first not-yet-consumed message of that event.
    next: (event, timeoutMs = 10_000) => inbox.next(event, timeoutMs) as never,
  };
}

export function hello(site: RawSite, siteId: string, token?: string): void {
  site.siteId = siteId;
  site.link.send('hello', { protocol: PROTOCOL_VERSION, siteId, token, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 40 } });
}

/** Sends a hello and returns the first answer: 'welcome' or 'rejected'. */
export async function tryJoin(url: string, siteId: string, token?: string): Promise<{ site: RawSite; answer: MessageOf<ServerToClient> }> {
  const site = await rawSite(url);
  hello(site, siteId, token);
  const deadline = Date.now() + 10_000;
  while (site.messages.length === 0) {
    if (Date.now() > deadline) throw new Error('no answer to hello');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { site, answer: site.messages[0] };
}
