import type { FedtuneError } from '../errors.ts';
import type { ClientToServer, ServerToClient } from '../messages/events.ts';

/**
 * The only seam between federated-learning logic and the network (after Flower's `Grid`).
 * Implementations: socket.io (coordinator/src/transport/socketio-server-transport.ts + shared socketio-client.ts)
 * and the in-memory network (memory-network.ts). All pass tests/helpers/transport-conformance.ts.
 *
 * Every incoming payload is validated against its schema before a handler sees it; payloads that fail
 * go to `onInvalid` with a typed error instead.
 */
export type MessageOf<M> = { [K in keyof M & string]: { event: K; payload: M[K] } }[keyof M & string];

export interface Endpoint<Out, In> {
  send<K extends keyof Out & string>(event: K, payload: Out[K]): void;
  /** Sends without the sender-side type; the receiver still validates. For tests and simulated attackers. */
  sendUnchecked(event: string, payload: unknown): void;
  onMessage(handler: (message: MessageOf<In>) => void): void;
  onInvalid(handler: (error: FedtuneError) => void): void;
  onClose(handler: (reason: string) => void): void;
  close(): void;
  readonly closed: boolean;
}

/** The coordinator's end of one site's connection. */
export interface SiteLink extends Endpoint<ServerToClient, ClientToServer> {
  readonly id: string;
  /**
   * The peer's network address, where the transport knows one (a socket.io connection's; on a cluster's leader, a
   * relayed site's as the node holding its socket saw it): the per-address limits of hellos key on it. Absent in memory.
   */
  readonly remoteAddress?: string;
  /**
   * The verdict on the site's token where it was checked before it reached this end (a cluster follower checks a
   * site's token itself and relays the verdict, never the token); absent where this end checks it (the hello's own).
   */
  readonly tokenVerdict?: { ok: true } | { ok: false; reason: string };
  /**
   * Flow control: stop reading this connection until resumeReceiving — what the site sends waits in the
   * network meanwhile, and messages already read may still arrive. The coordinator's fan-in pauses its sites
   * while its queue of updates is full (site-connections.ts). Absent, or a no-op, where a transport cannot.
   */
  pauseReceiving?(): void;
  resumeReceiving?(): void;
}

/**
 * A site's end of its connection to the coordinator; `serverUrl`: the base URL of the coordinator it is connected
 * to (socket.io links), where model bytes delivered over HTTP are fetched (on a cluster: that node).
 */
export type CoordinatorLink = Endpoint<ClientToServer, ServerToClient> & {
  readonly serverUrl?: string;
  /**
   * The run's terms are accepted: the coordinator may now send messages as large as the run's model needs
   * (`messageBytesForModel` of its parameters; until then a pre-terms limit). Absent, or a no-op, where a transport
   * has no such limit (in memory, a browser's WebSocket).
   */
  allowMessagesForModel?(parameters: number): void;
};

export interface ServerTransport {
  /** Called once per new connection, before any of its messages are delivered. */
  onConnection(handler: (link: SiteLink) => void): void;
  close(): Promise<void>;
}

export interface ClientConnector {
  connect(): Promise<CoordinatorLink>;
  /** Other coordinators this connector can try after the one it connects to (a cluster's nodes: failover-connector.ts); absent: none. */
  readonly alternatives?: number;
}
