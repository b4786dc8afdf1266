import type { ServerTransport, SiteLink } from '@fedtune/shared';

/**
 * A long-lived server transport shared by the runs a coordinator drives one after another. Each run's
 * engine attaches with `onConnection`; connections made while no run is attached wait (their messages
 * queue in the link) and join the next run that attaches. `detach` ends a run's hold on new connections.
 */
export class RunSwitchTransport implements ServerTransport {
  private handler?: (link: SiteLink) => void;
  private readonly waiting = new Set<SiteLink>();

  constructor(private readonly inner: ServerTransport) {
    inner.onConnection((link) => this.route(link));
  }

  private route(link: SiteLink): void {
    if (this.handler) return this.handler(link);
    this.waiting.add(link);
    link.onClose(() => this.waiting.delete(link));
  }

  onConnection(handler: (link: SiteLink) => void): void {
    this.handler = handler;
    const links = [...this.waiting];
    this.waiting.clear();
    for (const link of links) if (!link.closed) handler(link);
  }

  /** New connections wait for the next run. */
  detach(): void {
    this.handler = undefined;
  }

  /** Connections waiting for a run. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
