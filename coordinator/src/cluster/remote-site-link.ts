import type { Server } from 'socket.io';
import { clipText, EndpointBase, parseClientMessage, type ClientToServer, type ServerToClient, type SiteLink } from '@fedtune/shared';
import type { InstructionFanout } from './instruction-fanout.ts';

/**
 * The leader's end of a site connected to another node of the cluster. What the site sends reaches it
 * relayed over Redis and is parsed here with the site message schemas (the follower parsed it too: nodes
 * do not trust each other); what the engine sends goes to the node holding the site's socket in the leader's
 * outbox (instruction-fanout.ts: one message per node per turn), or without one through the streams adapter
 * (`io.to(socketId).emit`).
 */
export class RemoteSiteLink extends EndpointBase<ServerToClient, ClientToServer> implements SiteLink {
  constructor(
    readonly id: string,
    /** The node holding the site's socket. */
    readonly node: string,
    private readonly io: Server,
    maxQueued: number,
    private readonly outbox?: InstructionFanout,
    /** The site's network address as the node holding its socket saw it (relayed with its hello). */
    readonly remoteAddress?: string,
    /** The relaying node's check of the site's token (relayed with its hello instead of the token). */
    readonly tokenVerdict?: { ok: true } | { ok: false; reason: string },
  ) {
    super((e, r) => parseClientMessage(e as keyof ClientToServer & string, r), { maxQueued, firstEvent: 'hello' });
  }

  /** One relayed message of the site (raw, as the site sent it): validated before any handler sees it. */
  deliver(event: string, raw: unknown): void {
    if (this.closed) return;
    try {
      this.receive(clipText(event, 64), raw);
    } catch {
      this.sendUnchecked('rejected', { code: 'internal', reason: 'the coordinator could not handle this message' });
    }
  }

  /** The node holding the socket says it closed (or the node went silent). */
  closedRemotely(reason: string): void {
    this.markClosed(clipText(reason));
  }

  protected emitWire(event: string, wirePayload: unknown): void {
    if (this.outbox) this.outbox.send(this.node, this.id, event, wirePayload);
    else this.io.to(this.id).emit(event, wirePayload);
  }

  close(): void {
    if (this.closed) return;
    this.markClosed('closed by the coordinator');
    // Let queued emits flush before the socket goes (on whichever node holds it).
    setTimeout(() => this.io.in(this.id).disconnectSockets(true), 50).unref?.();
  }
}
