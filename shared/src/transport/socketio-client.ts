import { io, type Socket } from 'socket.io-client';
import { FedtuneError } from '../errors.ts';
import type { ClientToServer, ServerToClient } from '../messages/events.ts';
import { parseServerMessage } from '../messages/parse-message.ts';
import { CoordinatorFrameLimits, messageBytesForModel, type CoordinatorFrameLimitsInput } from './coordinator-frame-limits.ts';
import { EndpointBase } from './endpoint-base.ts';
import { socketIoEndpoint } from './server-url.ts';
import type { ClientConnector, CoordinatorLink } from './transport.ts';
import { websocketFrameBudget } from './websocket-frame-budget.ts';
import { websocketMessageSizeLimit } from './websocket-message-size-limit.ts';
import { limitPongsWhileWritesWait } from './websocket-pong-limit.ts';

class SocketIoCoordinatorLink extends EndpointBase<ClientToServer, ServerToClient> {
  constructor(
    private readonly socket: Socket,
    /** The coordinator's base URL this link connected to (model bytes over HTTP come from it). */
    readonly serverUrl?: string,
    private readonly limits?: CoordinatorFrameLimits,
  ) {
    super((e, r) => parseServerMessage(e as keyof ServerToClient & string, r));
    // Unknown events are passed on too: the parser rejects them with a reason.
    socket.onAny((event: string, payload: unknown) => this.receive(event, payload));
    socket.on('disconnect', (reason) => this.markClosed(String(reason)));
  }

  protected emitWire(event: string, wirePayload: unknown): void {
    this.socket.emit(event, wirePayload);
  }

  close(): void {
    this.socket.disconnect();
    this.markClosed('closed by this side');
  }

  allowMessagesForModel(parameters: number): void {
    if (this.limits) websocketMessageSizeLimit(coordinatorWebsocket(this.socket))?.set(messageBytesForModel(parameters, this.limits.preTermsMessageBytes));
  }

  /** Closes the link with `reason` (the site's guards cut the connection: its own disconnect comes after). */
  cut(reason: string): void {
    this.markClosed(reason);
    this.socket.disconnect();
  }
}

export interface SocketIoConnectorOptions {
  url: string;
  /** socket.io path on the server (default "<the URL's path prefix>/socket.io": server-url.ts). */
  path?: string;
  connectTimeoutMs?: number;
  /**
   * Node only: PEM certificate(s) of a private CA to verify an https:// coordinator against (instead of
   * the system's CAs). Certificates are always verified. Browsers use their own trust store.
   */
  ca?: string | string[];
  /**
   * Node only: the frames the coordinator may send (a budget; past it the connection is cut) and the pings answered
   * while the site's writes wait. Defaults: coordinator-frame-limits.ts. A browser's WebSocket handles frames itself.
   */
  frameLimits?: CoordinatorFrameLimitsInput;
  /** Extra options passed to socket.io-client (e.g. TLS `ca` in Node). */
  extra?: Record<string, unknown>;
}

/** Connects a site to a coordinator over socket.io (websocket only). Works in Node and in the browser. */
export function socketIoConnector(options: SocketIoConnectorOptions): ClientConnector {
  const frameLimits = CoordinatorFrameLimits.parse(options.frameLimits ?? {});
  return {
    connect: () =>
      new Promise<CoordinatorLink>((resolve, reject) => {
        const endpoint = socketIoEndpoint(options.url, options.path);
        const socket = io(endpoint.url, {
          path: endpoint.path,
          transports: ['websocket'],
          reconnection: false,
          timeout: options.connectTimeoutMs ?? 10_000,
          forceNew: true,
          ...(options.ca !== undefined ? { ca: options.ca, rejectUnauthorized: true } : {}),
          ...options.extra,
        });
        let link: SocketIoCoordinatorLink | undefined;
        let cutReason: string | undefined;
        guardWebsocket(socket, frameLimits, (reason) => {
          cutReason = reason;
          // Before the namespace's connect: the connect fails with this reason (connect_error follows the cut).
          if (link) link.cut(reason);
          else onError(new FedtuneError('transport', reason));
        });
        const onError = (err: Error) => {
          socket.off('connect', onConnect);
          socket.disconnect();
          // "websocket error" alone does not say why: add the cause (e.g. "self-signed certificate").
          const detail = (err as { description?: { message?: unknown } }).description?.message;
          const why = cutReason ?? (typeof detail === 'string' && detail && detail !== err.message ? `${err.message} (${detail})` : err.message);
          reject(new FedtuneError('transport', `cannot connect to ${options.url}: ${why}`, { cause: err }));
        };
        const onConnect = () => {
          socket.off('connect_error', onError);
          link = new SocketIoCoordinatorLink(socket, options.url, frameLimits);
          resolve(link);
        };
        socket.once('connect', onConnect);
        socket.once('connect_error', onError);
      }),
  };
}

/**
 * In Node, the coordinator's websocket is budgeted (websocket-frame-budget.ts), its pings answered only while it
 * reads (websocket-pong-limit.ts) and its messages held to the pre-terms size (websocket-message-size-limit.ts;
 * raised by allowMessagesForModel), from its first frame: all are set as the websocket opens, before its receiver
 * has parsed anything. `onCut` gets the reason a guard cut it. A browser's WebSocket is left as it is.
 */
function guardWebsocket(socket: Socket, limits: CoordinatorFrameLimits, onCut: (reason: string) => void): void {
  const engine = (socket.io as unknown as { engine?: unknown }).engine;
  const ws = coordinatorWebsocket(socket) as
    | { once?(event: 'open', listener: () => void): unknown; prependListener?(event: 'error', listener: (err: { code?: unknown }) => void): unknown }
    | undefined;
  if (typeof ws?.once !== 'function' || typeof ws.prependListener !== 'function') return;
  ws.once('open', () => {
    const reason = `the coordinator sent websocket frames faster than ${limits.framesPerSecond} a second (in bursts of ${limits.frameBurst}): connection cut`;
    websocketFrameBudget(ws, limits, () => onCut(reason));
    limitPongsWhileWritesWait(ws, engine, limits.pongsWhileWritesWait);
    const size = websocketMessageSizeLimit(ws);
    size?.set(limits.preTermsMessageBytes);
    // Before engine.io-client's own error listener (which closes the link as "transport error"): say why. ws closes
    // the connection with 1009 after this error.
    ws.prependListener!('error', (err) => {
      if (err?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') onCut(`the coordinator sent a message larger than the site's limit of ${size?.bytes} bytes: connection cut`);
    });
  });
}

/** engine.io-client's websocket (ws in Node, the browser's WebSocket in a browser) under a socket.io-client socket. */
function coordinatorWebsocket(socket: Socket): unknown {
  return (socket.io as unknown as { engine?: { transport?: { ws?: unknown } } }).engine?.transport?.ws;
}
