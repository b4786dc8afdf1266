import type { Server, Socket } from 'socket.io';
import { clipText, EndpointBase, parseClientMessage, type ClientToServer, type ServerToClient, type ServerTransport, type SiteLink } from '@fedtune/shared';
import { ConnectionLimits, type ConnectionLimitsInput } from '../engine/connection-limits.ts';

class SocketIoSiteLink extends EndpointBase<ServerToClient, ClientToServer> implements SiteLink {
  readonly id: string;
  private helloTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly socket: Socket,
    limits: ConnectionLimits,
  ) {
    super((e, r) => parseClientMessage(e as keyof ClientToServer & string, r), {
      maxQueued: limits.maxQueuedMessages,
      // Nothing but a hello is parsed (or processed) before a hello has passed its schema.
      firstEvent: 'hello',
    });
    this.id = socket.id;
    // Unknown events are passed on too: the parser rejects them with a (clipped) reason.
    socket.onAny((event: unknown, payload: unknown) => {
      try {
        this.receive(typeof event === 'string' ? event : clipText(event), payload);
      } catch {
        // A handler failed on this message: refuse it rather than let the throw reach socket.io (and the process).
        this.sendUnchecked('rejected', { code: 'internal', reason: 'the coordinator could not handle this message' });
      }
    });
    socket.on('disconnect', (reason) => {
      clearTimeout(this.helloTimer);
      this.markClosed(clipText(String(reason)));
    });
    // Whatever waits for this connection (a run, or none yet), one that never says hello is not kept.
    this.helloTimer = setTimeout(() => {
      this.sendUnchecked('rejected', { code: 'timeout', reason: `no hello within ${limits.helloTimeoutMs} ms of connecting` });
      this.close();
    }, limits.helloTimeoutMs);
    this.helloTimer.unref?.();
  }

  protected override parsed(event: string): void {
    if (event === 'hello') clearTimeout(this.helloTimer);
  }

  protected emitWire(event: string, wirePayload: unknown): void {
    this.socket.emit(event, wirePayload);
  }

  close(): void {
    clearTimeout(this.helloTimer);
    this.markClosed('closed by the coordinator');
    // Let queued emits flush before the socket goes.
    setTimeout(() => this.socket.disconnect(true), 50);
  }
}

/**
 * The coordinator's socket.io transport: one SiteLink per connected socket. A socket that sends no valid
 * hello within `helloTimeoutMs` is closed; one waiting for a run queues at most `maxQueuedMessages`.
 */
export function socketIoServerTransport(io: Server, limitsInput: ConnectionLimitsInput = {}): ServerTransport {
  const limits = ConnectionLimits.parse(limitsInput);
  let handler: ((link: SiteLink) => void) | undefined;
  const early: SiteLink[] = [];
  io.on('connection', (socket) => {
    const link = new SocketIoSiteLink(socket, limits);
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
