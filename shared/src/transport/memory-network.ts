import { FedtuneError } from '../errors.ts';
import { macrotaskScheduler } from '../client/yield-to-event-loop.ts';
import type { ClientToServer, ServerToClient } from '../messages/events.ts';
import { parseClientMessage, parseServerMessage } from '../messages/parse-message.ts';
import { countBinaryFields, MAX_WIRE_ATTACHMENTS } from './binary-fields.ts';
import { EndpointBase, type EndpointOptions } from './endpoint-base.ts';
import { payloadBytes } from './payload-size.ts';
import type { ClientConnector, CoordinatorLink, ServerTransport, SiteLink } from './transport.ts';

const defer = macrotaskScheduler();

/** Copies a payload the way a wire would: no shared references survive, binary stays binary. */
function wireCopy(payload: unknown): unknown {
  return structuredClone(payload);
}

const NO_OPTIONS: EndpointOptions = Object.freeze({});

class MemoryEndpoint<Out, In> extends EndpointBase<Out, In> {
  peer?: MemoryEndpoint<In, Out>;

  constructor(
    parse: (event: string, raw: unknown) => unknown,
    private readonly maxMessageBytes: number,
    readonly id: string,
    options: EndpointOptions = NO_OPTIONS,
  ) {
    super(parse, options);
  }

  protected emitWire(event: string, payload: unknown): void {
    const peer = this.peer!;
    // Like socket.io: a message over maxHttpBufferSize, or a packet with more binary attachments than its
    // parser accepts, closes the connection.
    if (payloadBytes(payload) > this.maxMessageBytes || countBinaryFields(payload) > MAX_WIRE_ATTACHMENTS) {
      defer(() => {
        this.close();
      });
      return;
    }
    const copy = wireCopy(payload);
    defer(() => {
      if (!peer.closed) peer.deliver(event, copy);
    });
  }

  deliver(event: string, raw: unknown): void {
    if (this.held) this.held.push({ event, raw });
    else this.receive(event, raw);
  }

  /** While paused (pauseReceiving), what arrives waits here, in order, a close included. */
  private held?: Array<{ event: string; raw: unknown } | { close: true }>;

  pauseReceiving(): void {
    this.held ??= [];
  }

  resumeReceiving(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    // Delivered on a later turn, in order (the caller may be the handler of an earlier message).
    defer(() => {
      for (const item of held) {
        if ('close' in item) this.markClosed('closed by peer');
        else if (!this.closed) this.deliver(item.event, item.raw);
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.markClosed('closed by this side');
    const peer = this.peer;
    defer(() => peer?.markClosedByPeer());
  }

  markClosedByPeer(): void {
    if (this.held) this.held.push({ close: true });
    else this.markClosed('closed by peer');
  }
}

export interface MemoryNetworkOptions {
  /** Largest message accepted, in bytes (mirrors socket.io's maxHttpBufferSize). */
  maxMessageBytes?: number;
}

/**
 * An in-process network for simulation. Messages are deep-copied and delivered asynchronously, and every
 * payload is validated by the same schemas as over socket.io; weights travel as codec bytes.
 */
export class MemoryNetwork {
  private connectionHandler?: (link: SiteLink) => void;
  private readonly links = new Set<MemoryEndpoint<ServerToClient, ClientToServer>>();
  private nextId = 1;
  private closedNetwork = false;
  readonly maxMessageBytes: number;

  constructor(options: MemoryNetworkOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  }

  serverTransport(): ServerTransport {
    return {
      onConnection: (handler) => {
        this.connectionHandler = handler;
      },
      close: async () => {
        this.closedNetwork = true;
        for (const link of this.links) link.close();
        this.links.clear();
      },
    };
  }

  /** A connector to this network (one small object; every connect opens a new connection). */
  connector(): ClientConnector {
    return new MemoryConnector(this);
  }

  /** A new connection: its server end goes to the coordinator, its client end is returned. */
  async open(): Promise<CoordinatorLink> {
    if (this.closedNetwork || !this.connectionHandler) {
      throw new FedtuneError('transport', 'no coordinator is listening on this memory network');
    }
    const id = `mem-${this.nextId++}`;
    // As over socket.io: nothing but a hello is parsed before a hello has passed its schema.
    const server = new MemoryEndpoint<ServerToClient, ClientToServer>(parseFromSite, this.maxMessageBytes, id, SERVER_ENDPOINT_OPTIONS);
    const client = new MemoryEndpoint<ClientToServer, ServerToClient>(parseFromCoordinator, this.maxMessageBytes, id);
    server.peer = client;
    client.peer = server;
    this.links.add(server);
    server.onClose(() => this.links.delete(server));
    this.connectionHandler(server);
    return client;
  }
}

/** The parsers and options every connection shares (one of each per process, not per connection). */
const parseFromSite = (e: string, r: unknown) => parseClientMessage(e as keyof ClientToServer & string, r);
const parseFromCoordinator = (e: string, r: unknown) => parseServerMessage(e as keyof ServerToClient & string, r);
const SERVER_ENDPOINT_OPTIONS: EndpointOptions = Object.freeze({ firstEvent: 'hello' });

/** What a site connects with: one small object per site, no closures. */
class MemoryConnector implements ClientConnector {
  constructor(private readonly network: MemoryNetwork) {}

  connect(): Promise<CoordinatorLink> {
    return this.network.open();
  }
}
