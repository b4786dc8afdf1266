import type { Server, Socket } from 'socket.io';
import { UnwelcomedConnections } from './unwelcomed-connections.ts';
import { clipText, EndpointBase, limitPongsWhileWritesWait, parseClientMessage, websocketFrameBudget, websocketMessageSizeLimit, type ClientToServer, type FrameBudget, type ServerToClient, type ServerTransport, type SiteLink } from '@fedtune/shared';
import { ConnectionLimits, type ConnectionLimitsInput } from '../engine/connection-limits.ts';

class SocketIoSiteLink extends EndpointBase<ServerToClient, ClientToServer> implements SiteLink {
  readonly id: string;
  readonly remoteAddress?: string;
  private helloTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly socket: Socket,
    limits: ConnectionLimits,
    /** The server's full message size, which a welcomed site's connection may use (engine.io's maxHttpBufferSize). */
    private readonly maxMessageBytes: number,
    private readonly unwelcomed: UnwelcomedConnections,
    /** The connection's websocket frame budget (none without a ws websocket): raised when its site is welcomed. */
    private readonly frameBudget: FrameBudget | undefined,
    private readonly welcomedFrames: { framesPerSecond: number; frameBurst: number },
  ) {
    super((e, r) => parseClientMessage(e as keyof ClientToServer & string, r), {
      maxQueued: limits.maxQueuedMessages,
      // Nothing but a hello is parsed (or processed) before a hello has passed its schema.
      firstEvent: 'hello',
    });
    this.id = socket.id;
    this.remoteAddress = socket.handshake.address;
    // Unknown events are passed on too: the parser rejects them with a (clipped) reason.
    socket.onAny((event: unknown, payload: unknown) => {
      try {
        // The name as text, whole (socket.io's parser passes strings and numbers; anything else becomes its type): the
        // gate and the parser clip it where they quote it.
        this.receive(clipText(event, Infinity), payload);
      } catch {
        // A handler failed on this message: refuse it rather than let the throw reach socket.io (and the process).
        this.sendUnchecked('rejected', { code: 'internal', reason: 'the coordinator could not handle this message' });
      }
    });
    socket.on('disconnect', (reason) => {
      // Closed by this server (close() below, or in a cluster by the leader through the adapter): the websocket's
      // close waits up to 30 s for the peer's close frame, holding the connection (and a file descriptor) that long;
      // an honest site answers at once, a hostile one never: its TCP socket goes after a second.
      if (reason === 'server namespace disconnect') destroyAfterGrace(socket.conn as unknown as EngineConnection);
      clearTimeout(this.helloTimer);
      // Paused as the coordinator closed it: read again, so that the websocket's closing handshake can finish.
      this.resumeReceiving();
      this.markClosed(clipText(String(reason)));
    });
    // Whatever waits for this connection (a run, or none yet), one that never says hello is not kept.
    this.helloTimer = setTimeout(() => {
      this.sendUnchecked('rejected', { code: 'timeout', reason: `no hello within ${limits.helloTimeoutMs} ms of connecting` });
      this.close();
    }, limits.helloTimeoutMs);
    this.helloTimer.unref();
  }

  protected override parsed(): void {
    // The first message to pass its schema is a hello: EndpointBase parses nothing else before one (firstEvent).
    clearTimeout(this.helloTimer);
  }

  protected emitWire(event: string, wirePayload: unknown): void {
    // A welcomed site (its hello accepted, its token checked, by this node or, in a cluster, by the leader through
    // this node) may now send messages up to the server's full size, its updates; until now, the pre-hello limit.
    // It no longer counts against its address's unwelcomed connections either.
    if (event === 'welcome') {
      websocketMessageSizeLimit(engineWebsocket(this.socket.conn))?.set(this.maxMessageBytes);
      this.frameBudget?.set(this.welcomedFrames);
      this.unwelcomed.release(this.socket.conn);
    }
    this.socket.emit(event, wirePayload);
  }

  /** The websocket paused by pauseReceiving, until resumeReceiving resumes it. */
  private pausedWebsocket?: PausableWebsocket;

  /**
   * Stops reading the websocket (ws pauses its TCP socket). A connection without one (long-polling, where a host of
   * this transport allows it; the coordinator's app does not) is not paused.
   */
  pauseReceiving(): void {
    if (this.pausedWebsocket || this.closed) return;
    // engine.io's connection always has a transport; only a websocket transport has a `socket` (ws) under it.
    const ws = engineWebsocket(this.socket.conn) as Partial<PausableWebsocket> | undefined;
    if (typeof ws?.pause !== 'function') return;
    ws.pause();
    this.pausedWebsocket = ws as PausableWebsocket;
  }

  resumeReceiving(): void {
    const ws = this.pausedWebsocket;
    if (!ws) return;
    this.pausedWebsocket = undefined;
    ws.resume();
  }

  close(): void {
    clearTimeout(this.helloTimer);
    // Nothing more it sends is read: a peer cut for flooding does not go on spending the event loop (and its frame
    // budget, which would cut it without the disconnect packet) until the socket goes.
    this.pauseReceiving();
    this.markClosed('closed by the coordinator');
    // Let queued emits flush before the socket goes.
    // The whole connection, not only the site's namespace (a site uses no other; any other's would go with the TCP
    // socket a second later anyway, destroyAfterGrace).
    // Stryker disable next-line BooleanLiteral: equivalent but for timing: disconnect(false) leaves other namespaces a second longer.
    setTimeout(() => this.socket.disconnect(true), 50);
  }
}

/** The websocket (ws) under an engine.io connection: its transport's `socket`; undefined for any other transport. */
function engineWebsocket(conn: unknown): unknown {
  return (conn as { transport?: { socket?: unknown } } | undefined)?.transport?.socket;
}

/** A websocket (ws) as pauseReceiving reaches it. */
type PausableWebsocket = { pause(): void; resume(): void };

/** An engine.io connection as far as this transport reaches into it (the HTTP request its websocket came from). */
type EngineConnection = { remoteAddress?: string; request: { socket: { destroy(): void } }; transport?: { socket?: unknown }; once(event: 'close', listener: () => void): unknown };

/** How long a connection the coordinator closed or refused has to finish the websocket's closing handshake. */
const CLOSE_GRACE_MS = 1_000;

/** Destroys the connection's TCP socket after CLOSE_GRACE_MS (nothing happens to one already gone by then). */
function destroyAfterGrace(conn: EngineConnection): void {
  // engine.io keeps the handshake's request for the connection's life; destroying a destroyed socket does nothing.
  setTimeout(() => conn.request.socket.destroy(), CLOSE_GRACE_MS).unref();
}

/**
 * The coordinator's socket.io transport: one SiteLink per connected socket. A socket that sends no valid
 * hello within `helloTimeoutMs` is closed; one waiting for a run queues at most `maxQueuedMessages`.
 */
export function socketIoServerTransport(io: Server, limitsInput: ConnectionLimitsInput = {}): ServerTransport {
  const limits = ConnectionLimits.parse(limitsInput);
  let handler: ((link: SiteLink) => void) | undefined;
  const early: SiteLink[] = [];
  const engine = io.engine as unknown as { opts: { maxHttpBufferSize: number }; on(event: 'connection', listener: (conn: EngineConnection) => void): void };
  const maxMessageBytes = engine.opts.maxHttpBufferSize;
  const unwelcomed = new UnwelcomedConnections(limits.maxUnwelcomedPerAddress);
  // Over the cap of its address: told why when it asks for the namespace (connect_error), and its TCP socket destroyed
  // a second later (a websocket close would wait up to 30 s for a close frame that a hostile peer never sends).
  const overCap = new WeakSet<object>();
  const frameBudgets = new WeakMap<object, FrameBudget>();
  const welcomedFrames = { framesPerSecond: limits.framesPerSecond, frameBurst: limits.frameBurst };
  engine.on('connection', (conn) => {
    // Every connection starts at the pre-hello limit, set as engine.io opens it: before its websocket has parsed a
    // frame (ws reads the socket on a later turn). A site's connection is raised to the full size when it is welcomed.
    websocketMessageSizeLimit(engineWebsocket(conn))?.set(Math.min(limits.preHelloMessageBytes, maxMessageBytes));
    // And its frames are counted from the first, at the pre-hello budget: a flood of pings or engine.io packets cuts it.
    const ws = engineWebsocket(conn);
    const budget = websocketFrameBudget(ws, { framesPerSecond: limits.preHelloFramesPerSecond, frameBurst: limits.preHelloFrameBurst });
    if (budget) frameBudgets.set(conn, budget);
    // And the pongs its pings get are bounded while it does not read them (a pong each, queued in memory, before).
    limitPongsWhileWritesWait(ws, undefined, limits.pongsWhileWritesWait);
    if (!unwelcomed.admit(conn)) {
      overCap.add(conn);
      destroyAfterGrace(conn);
    }
  });
  io.use((socket, next) => {
    if (!overCap.has(socket.conn)) return next();
    next(new Error(`too many connections from this address waiting to join (${limits.maxUnwelcomedPerAddress}): retry later`));
  });
  io.on('connection', (socket) => {
    const link = new SocketIoSiteLink(socket, limits, maxMessageBytes, unwelcomed, frameBudgets.get(socket.conn), welcomedFrames);
    if (handler) handler(link);
    else early.push(link);
  });
  return {
    onConnection(h) {
      handler = h;
      for (const link of early.splice(0)) h(link);
    },
    close: () => new Promise<void>((resolve) => void io.close(() => resolve())),
  };
}
