import { createHash } from 'node:crypto';
import type { EngineEvent, RunningCoordinator, StartCoordinatorOptions } from '@fedtune/coordinator';
import { MemoryNetwork, PROTOCOL_VERSION, type CoordinatorLink } from '@fedtune/shared';
import { startTinyCoordinator } from '../access/helpers.ts';
import { messageInbox } from '../helpers/message-inbox.ts';
import type { RunContext } from '../../coordinator/src/engine/run-context.ts';

/** Hand-driven peers of a tiny coordinator over the in-memory transport (site-routing-*.test.ts). */

export interface Message {
  event: string;
  payload: Record<string, unknown>;
}

export interface Peer {
  link: CoordinatorLink;
  messages: Message[];
  closed: Promise<string>;
  /** The next not-yet-consumed message of that event. */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(event: string, payload: Record<string, unknown>): void;
}

export const RUN = 'routing';
const running: RunningCoordinator[] = [];

/** Closes every coordinator `start` made (each test file's afterEach). */
export async function closeAll(): Promise<void> {
  for (const c of running.splice(0)) await c.close();
}


export async function start(config: Record<string, unknown> = {}, extra: Partial<StartCoordinatorOptions> = {}): Promise<{ coordinator: RunningCoordinator; network: MemoryNetwork; events: EngineEvent[] }> {
  const network = new MemoryNetwork();
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({
    runId: RUN,
    transport: network,
    onEvent: (e: EngineEvent) => events.push(e),
    config: { runId: RUN, minSites: 2, rounds: 1, joinTimeoutMs: 60_000, roundTimeoutMs: 20_000, robustness: { when: 'never' }, ...config },
    ...extra,
  } as never);
  running.push(coordinator);
  return { coordinator, network, events };
}

/** A raw connection that says hello as `siteId` and (unless `accept` is false) accepts the run's terms. */
export async function peer(network: MemoryNetwork, siteId: string, options: { accept?: boolean; numExamples?: number; backend?: string; hello?: boolean } = {}): Promise<Peer> {
  const link = await network.connector().connect();
  const inbox = messageInbox<Message>();
  link.onMessage((m) => {
    const message = m as unknown as Message;
    inbox.push(message);
    if (message.event === 'terms' && options.accept !== false) {
      const p = message.payload as { terms: { runId: string }; hash: string };
      link.sendUnchecked('acceptTerms', { runId: p.terms.runId, siteId, hash: p.hash });
    }
  });
  const closed = new Promise<string>((resolve) => link.onClose(resolve));
  const self: Peer = {
    link,
    messages: inbox.messages,
    closed,
    next: (event, timeoutMs = 3_000) => inbox.next(event, timeoutMs),
    send: (event, payload) => link.sendUnchecked(event as never, payload as never),
  };
  if (options.hello !== false) {
    link.sendUnchecked('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: options.backend ?? 'cpu', runtime: 'node', numExamples: options.numExamples ?? 40 } });
  }
  return self;
}

export async function until(condition: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const fitResult = (siteId: string, round: number, weights: Uint8Array, numExamples = 40) => ({ runId: RUN, round, siteId, weights, numExamples, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
export const counts = { examples: 40, duplicatesDropped: 1, missingImputed: 0, constantFeatures: 0, labelCounts: [20, 20] };
/** The engine's run context (private to it): what a round in progress holds, which no message shows until the round ends. */
export const contextOf = (coordinator: RunningCoordinator) => (coordinator.engine as unknown as { ctx: RunContext }).ctx;
export const ofType = <T extends EngineEvent['type']>(events: EngineEvent[], type: T) => events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);

