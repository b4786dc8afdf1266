import type { Server, Socket } from 'socket.io';
import { EndpointBase, parseClientMessage, type ClientToServer, type ServerToClient, type ServerTransport, type SiteLink } from '@fedtune/shared';

class SocketIoSiteLink extends EndpointBase<ServerToClient, ClientToServer> implements SiteLink {
  readonly id: string;

  constructor(private readonly socket: Socket) {
    super((e, r) => parseClientMessage(e as keyof ClientToServer & string, r));
    this.id = socket.id;
    // Unknown events are passed on too: the parser rejects them with a reason.
    socket.onAny((event: string, payload: unknown) => this.receive(event, payload));
    socket.on('disconnect', (reason) => this.markClosed(String(reason)));
  }

  protected emitWire(event: string, wirePayload: unknown): void {
    this.socket.emit(event, wirePayload);
  }

  close(): void {
    this.markClosed('closed by the coordinator');
    // Let queued emits flush before the socket goes.
    setTimeout(() => this.socket.disconnect(true), 50);
  }
}

/** The coordinator's socket.io transport: one SiteLink per connected socket. */
export function socketIoServerTransport(io: Server): ServerTransport {
  let handler: ((link: SiteLink) => void) | undefined;
  const early: SiteLink[] = [];
  io.on('connection', (socket) => {
    const link = new SocketIoSiteLink(socket);
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
