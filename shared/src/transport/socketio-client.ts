import { io, type Socket } from 'socket.io-client';
import { FedtuneError } from '../errors.ts';
import type { ClientToServer, ServerToClient } from '../messages/events.ts';
import { parseServerMessage } from '../messages/parse-message.ts';
import { EndpointBase } from './endpoint-base.ts';
import { socketIoEndpoint } from './server-url.ts';
import type { ClientConnector, CoordinatorLink } from './transport.ts';

class SocketIoCoordinatorLink extends EndpointBase<ClientToServer, ServerToClient> {
  constructor(
    private readonly socket: Socket,
    /** The coordinator's base URL this link connected to (model bytes over HTTP come from it). */
    readonly serverUrl?: string,
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
  /** Extra options passed to socket.io-client (e.g. TLS `ca` in Node). */
  extra?: Record<string, unknown>;
}

/** Connects a site to a coordinator over socket.io (websocket only). Works in Node and in the browser. */
export function socketIoConnector(options: SocketIoConnectorOptions): ClientConnector {
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
        const onError = (err: Error) => {
          socket.off('connect', onConnect);
          socket.disconnect();
          // "websocket error" alone does not say why: add the cause (e.g. "self-signed certificate").
          const detail = (err as { description?: { message?: unknown } }).description?.message;
          const why = typeof detail === 'string' && detail && detail !== err.message ? `${err.message} (${detail})` : err.message;
          reject(new FedtuneError('transport', `cannot connect to ${options.url}: ${why}`, { cause: err }));
        };
        const onConnect = () => {
          socket.off('connect_error', onError);
          resolve(new SocketIoCoordinatorLink(socket, options.url));
        };
        socket.once('connect', onConnect);
        socket.once('connect_error', onError);
      }),
  };
}
