import type { ClientConnector, CoordinatorLink } from '@fedtune/shared';

/**
 * A connector that opens its first connection as soon as it is made, so the connection's handshake (TCP, TLS,
 * the websocket upgrade, socket.io's connect) runs while the site is still reading its data and starting its
 * tfjs backend (issue 14, fast start). Nothing is sent on that link until the site says hello: the hello
 * still goes out only once the data is checked and the backend is ready.
 *
 * The first `connect()` hands over that early link. An early attempt that failed, or a link that closed
 * before it was handed over (e.g. the coordinator's hello deadline passed during a long data load), is
 * replaced by a fresh attempt, so opening early never costs the site a failure or a reconnect. Every later
 * `connect()` (the site's reconnects) goes straight to `inner`. `discard()` closes a link that was never
 * handed over (the site stopped before joining: bad data, no backend).
 */
export class EarlyConnector implements ClientConnector {
  private early?: Promise<CoordinatorLink | undefined>;

  constructor(private readonly inner: ClientConnector) {
    // An early failure is not reported here: the first connect() tries again and reports its own.
    this.early = inner.connect().then(
      (link) => link,
      () => undefined,
    );
  }

  /** The inner connector's other coordinators (a cluster's nodes), told in the site's hello. */
  get alternatives(): number | undefined {
    return this.inner.alternatives;
  }

  /** Whether the early link is still waiting to be handed over (not yet taken by `connect()` or `discard()`). */
  get pending(): boolean {
    return this.early !== undefined;
  }

  async connect(): Promise<CoordinatorLink> {
    const early = this.early;
    this.early = undefined;
    const link = early ? await early : undefined;
    return link && !link.closed ? link : this.inner.connect();
  }

  /** Closes the early link if it was never handed over (now, or as soon as its attempt completes). */
  discard(): void {
    if (!this.early) return;
    const early = this.early;
    this.early = undefined;
    void early.then((link) => link?.close());
  }
}
