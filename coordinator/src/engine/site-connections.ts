import { clipText, oneLine, PROTOCOL_VERSION, type ClientToServer, type FedtuneError, type Hello, type MessageOf, type SiteLink } from '@fedtune/shared';
import { CutSiteCooldowns } from './cut-site-cooldowns.ts';
import { RateLimiter } from '../access/rate-limiter.ts';
import { ConnectionLimits, type ConnectionLimitsInput } from './connection-limits.ts';
import type { SiteRegistry, SiteState } from './site-registry.ts';

/**
 * What an `authorize` hook decides about a hello: true/false, or a verdict. `authenticated` says the hello
 * proved its name (a valid site token): only such a hello may take the name of a site that is still alive.
 * A refusal carries its code (default 'unauthorized') and reason.
 */
export type HelloVerdict = boolean | { ok: true; authenticated?: boolean } | { ok: false; code?: 'unauthorized' | 'rate_limited'; reason: string };

/** Where a hello that may join should join: here, or on another node of a cluster (`node_busy`: site-placement.ts). */
export type PlacementVerdict = { ok: true } | { ok: false; reason: string };

/** A message from a joined site, other than its hello. */
export type SiteMessage = Exclude<MessageOf<ClientToServer>, { event: 'hello' }>;

/** Told once per connection that was cut, or that closed without joining after some of its messages were refused. */
export interface RefusedConnection {
  connection: string;
  /** The site the connection had joined as, if it had. */
  siteId?: string;
  refusals: number;
  reason: string;
}

export interface SiteConnectionsOptions {
  registry: SiteRegistry;
  runId: string;
  limits?: ConnectionLimitsInput;
  authorize?: (hello: Hello, link: SiteLink) => HelloVerdict;
  /**
   * After `authorize`: whether the site joins through the node it reached (a coordinator cluster places sites
   * by the nodes' shares: cluster/site-placement.ts). Asked for every authorized hello (so it sees each arrival); a refusal is sent as `node_busy`
   * and the connection closed — only for a hello that offers alternatives (`capabilities.alternatives` > 0): for
   * one that does not, a refusal is ignored and the site joins here.
   */
  place?: (hello: Hello, link: SiteLink) => PlacementVerdict;
  /** A hello was accepted: the site is registered and welcomed. `replaced` is its previous connection, now closed. */
  onJoined(site: SiteState, hello: Hello, replaced: SiteState | undefined): void;
  onLeft(site: SiteState, reason: string): void;
  onMessage(site: SiteState, message: SiteMessage): void;
  /** A joined site sent a message that failed its schema (the engine records it and calls `refuse`). */
  onInvalid(site: SiteState, error: FedtuneError): void;
  onRefusedConnection?(info: RefusedConnection): void;
  now?: () => number;
  /** A welcomed site joins only once it accepts the run's terms (the engine sends them in onJoined). */
  pendingUntilTermsAccepted?: boolean;
}

interface ConnectionState {
  /** Times of the refusals within the current window (at most maxRefusals + 1). */
  recent: number[];
  refusals: number;
  reported: boolean;
  /** This connection's messages (and close) waiting in the fan-in queue: later ones queue behind them. */
  queued: number;
  /** The joined site's message budget (messagesPerSecond, messageBurst): tokens left, and when they were last refilled. */
  tokens: number;
  refilledAt: number;
}

/**
 * The coordinator's side of the site connections, before and around the round engine: nothing but a hello
 * is processed from a connection that has not joined (anything else is refused with a typed code, and is
 * never recorded in the run); a connection refused too often is cut; a site name held by a live
 * connection is not handed to an unauthenticated hello (`site_in_use`); every quoted string is clipped.
 */
/** The fan-in queue's hard bound, in multiples of fanInQueueLimit: messages read before a pause took hold. */
export const FAN_IN_HARD_LIMIT = 4;

/** Most site names whose joins are counted at once (connectionLimits.joinsPerMinute): a flood of made-up names evicts the oldest. */
export const MAX_JOIN_LIMITED_NAMES = 10_000;


export class SiteConnections {
  readonly limits: ConnectionLimits;
  private readonly connections = new WeakMap<SiteLink, ConnectionState>();
  private readonly now: () => number;
  /** The fan-in queue: work on joined sites' updates, in arrival order, drained a time slice per turn. */
  private readonly fanIn: Array<() => void> = [];
  private draining = false;
  /** Sites cut for too many refusals: their hellos are refused until their cooldown ends. */
  private readonly cutSites: CutSiteCooldowns;
  /** Joins per site name (connectionLimits.joinsPerMinute); absent when off. */
  private readonly joinsByName?: RateLimiter;

  constructor(private readonly options: SiteConnectionsOptions) {
    this.limits = ConnectionLimits.parse(options.limits ?? {});
    this.cutSites = new CutSiteCooldowns(this.limits.refusalCutCooldownMs);
    this.now = options.now ?? Date.now;
    const joins = this.limits.joinsPerMinute;
    this.joinsByName = joins > 0 ? new RateLimiter({ ratePerSecond: joins / 60, burst: joins }, this.now, MAX_JOIN_LIMITED_NAMES) : undefined;
  }

  accept(link: SiteLink): void {
    const state: ConnectionState = { recent: [], refusals: 0, reported: false, queued: 0, tokens: this.limits.messageBurst, refilledAt: this.now() };
    this.connections.set(link, state);
    link.onMessage((message) => {
      if (link.closed) return;
      const site = this.options.registry.ofLink(link);
      if (!site) {
        if (message.event === 'hello') return this.hello(link, message.payload);
        return this.refuse(link, 'unauthorized', `send hello before anything else (got "${message.event}")`);
      }
      const t = this.now();
      if (!this.withinBudget(state, t)) return this.refuse(link, 'rate_limited', `more than ${this.limits.messagesPerSecond} messages per second (bursts of ${this.limits.messageBurst}): refused`);
      site.lastSeen = t;
      if (message.event === 'hello') return this.refuse(link, 'duplicate_result', 'this connection has already joined');
      if (message.event === 'fitResult') this.readAnUpdate();
      // Updates wait their turn in the fan-in queue; so does anything after them from the same connection.
      if (message.event === 'fitResult' || state.queued > 0) return this.later(link, state, () => this.options.onMessage(site, message));
      this.options.onMessage(site, message);
    });
    link.onInvalid((error) => {
      if (link.closed) return;
      const site = this.options.registry.ofLink(link);
      if (!site) return this.refuse(link, error.code, error.message);
      site.lastSeen = this.now();
      if (state.queued > 0) return this.later(link, state, () => this.options.onInvalid(site, error));
      this.options.onInvalid(site, error);
    });
    // A connection that closes with updates still queued leaves after they are handled (as it sent them).
    link.onClose((reason) => (state.queued > 0 ? this.later(link, state, () => this.closed(link, state, reason)) : this.closed(link, state, reason)));
  }

  /** Takes one message from the connection's budget, refilled at messagesPerSecond up to messageBurst; false when none is left. */
  private withinBudget(state: ConnectionState, t: number): boolean {
    state.tokens = Math.min(this.limits.messageBurst, state.tokens + ((t - state.refilledAt) * this.limits.messagesPerSecond) / 1000);
    state.refilledAt = t;
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  }

  /** A connection closed: its site leaves (a method, not a closure per connection). */
  private closed(link: SiteLink, state: ConnectionState, reason: string): void {
    const site = this.options.registry.leave(link);
    if (site) this.options.onLeft(site, clipText(reason));
    else if (state.refusals > 0) this.report(link, state, undefined, `closed: ${reason}`);
  }

  /** Queues work of a connection in the fan-in queue (arrival order across all connections). */
  private later(link: SiteLink, state: ConnectionState, work: () => void): void {
    state.queued++;
    this.fanIn.push(() => {
      state.queued--;
      try {
        work();
      } catch {
        // A handler failed on this message: refused, and the queue goes on (nothing reaches the process).
        if (!link.closed) this.refuse(link, 'internal', 'the coordinator could not handle this message');
      }
    });
    // Full: the joined sites' connections are no longer read (their updates wait in the network) until the
    // queue has drained to half; what they had already read still arrives. Bounded whatever the transport: beyond
    // FAN_IN_HARD_LIMIT × the limit the oldest are handled now (memory stays flat in the number of sites).
    if (this.fanIn.length >= this.limits.fanInQueueLimit) this.pauseSites();
    while (this.fanIn.length > FAN_IN_HARD_LIMIT * this.limits.fanInQueueLimit) this.fanIn.shift()!();
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  /** Updates read in the current turn of the event loop (reset in the turn's check phase). */
  private updatesReadThisTurn = 0;
  /** The most updates read in one turn of the event loop (effect tests: `updatesReadPerTurn` plus what was already read). */
  mostUpdatesReadInATurn = 0;

  /** An update was read: past `updatesReadPerTurn` in this turn, the joined sites' connections stop being read. */
  private readAnUpdate(): void {
    if (this.updatesReadThisTurn++ === 0) setImmediate(() => (this.updatesReadThisTurn = 0));
    this.mostUpdatesReadInATurn = Math.max(this.mostUpdatesReadInATurn, this.updatesReadThisTurn);
    if (this.updatesReadThisTurn === this.limits.updatesReadPerTurn) this.pauseSites();
  }

  /** Works through the fan-in queue for at most busyMsPerTurn (at least one item), then yields a turn. */
  private drain(): void {
    const started = performance.now();
    // With the queue empty and time left, the next pass finds no work and ends the loop.
    do {
      const work = this.fanIn.shift();
      if (!work) break;
      work();
    } while (performance.now() - started < this.limits.busyMsPerTurn);
    if (this.sitesPaused && this.fanIn.length <= this.limits.fanInQueueLimit / 2) this.resumeSomeSites();
    // Paused sites are resumed a batch per turn: the loop goes on until every one is, queue empty or not.
    if (this.fanIn.length > 0 || this.sitesPaused) setImmediate(() => this.drain());
    else this.draining = false;
  }

  /** Whether some joined sites' connections are paused (the fan-in queue filled up and they are not all resumed yet). */
  sitesPaused = false;
  /** Times the fan-in paused the sites (effect tests, the load bench). */
  fanInPauses = 0;
  /** The most connections resumed in one turn of the event loop (effect tests: at most `resumeBatch`). */
  mostResumedInATurn = 0;
  /** The connections paused by the last pause, in order; those before `resumedUpTo` are resumed. */
  private pausedLinks: SiteLink[] = [];
  private resumedUpTo = 0;

  /**
   * Connections resumed per turn of the event loop: a quarter of the queue's limit, and no more than the updates
   * that may be read in a turn. They are resumed with the queue at half its limit at most, so their updates (one
   * each) do not fill it again.
   */
  get resumeBatch(): number {
    return Math.max(1, Math.min(Math.floor(this.limits.fanInQueueLimit / 4), this.limits.updatesReadPerTurn));
  }

  private pauseSites(): void {
    // Every connection of the last pause still paused: nothing to do.
    if (this.sitesPaused && this.resumedUpTo === 0) return;
    this.sitesPaused = true;
    this.fanInPauses++;
    // Those resumed since the last pause are paused again (pausing a paused connection does nothing), behind the
    // ones that were still waiting: those are resumed first, so every connection gets its turn.
    const waiting = this.pausedLinks.slice(this.resumedUpTo).filter((l) => !l.closed);
    const first = new Set(waiting);
    this.pausedLinks = [...waiting, ...this.options.registry.all().map((s) => s.link).filter((l) => !first.has(l))];
    this.resumedUpTo = 0;
    for (const link of this.pausedLinks) link.pauseReceiving?.();
  }

  /**
   * Resumes the next `resumeBatch` paused connections. Not all at once: a resumed connection reads at once
   * what waited in its socket (a site's whole update), in the same turn of the event loop, so resuming 500
   * together read 500 updates of 400 KB in one stall of 100+ ms (health checks waited behind it).
   */
  private resumeSomeSites(): void {
    const end = Math.min(this.pausedLinks.length, this.resumedUpTo + this.resumeBatch);
    let resumed = 0;
    for (; this.resumedUpTo < end; this.resumedUpTo++) {
      const link = this.pausedLinks[this.resumedUpTo];
      if (link.closed) continue;
      link.resumeReceiving?.();
      resumed++;
    }
    this.mostResumedInATurn = Math.max(this.mostResumedInATurn, resumed);
    if (this.resumedUpTo < this.pausedLinks.length) return;
    this.sitesPaused = false;
    this.pausedLinks = [];
    this.resumedUpTo = 0;
  }

  /**
   * Answers a message with a typed refusal (reason clipped) and counts it against the connection: more
   * than `maxRefusals` within `refusalWindowMs` and the connection is cut.
   */
  refuse(link: SiteLink, code: string, reason: string, round?: number): void {
    link.send('rejected', { runId: this.options.runId, round, code: oneLine(code, 64), reason: oneLine(reason) });
    const state = this.connections.get(link);
    if (!state || link.closed) return;
    const t = this.now();
    state.refusals++;
    state.recent = state.recent.filter((at) => t - at < this.limits.refusalWindowMs);
    state.recent.push(t);
    if (state.recent.length <= this.limits.maxRefusals) return;
    const why = `more than ${this.limits.maxRefusals} messages refused within ${this.limits.refusalWindowMs} ms: connection closed`;
    link.send('rejected', { runId: this.options.runId, code: 'rate_limited', reason: why });
    const siteId = this.options.registry.ofLink(link)?.siteId;
    this.report(link, state, siteId, why);
    if (siteId !== undefined) this.cutSites.cut(siteId, t);
    link.close();
  }

  private report(link: SiteLink, state: ConnectionState, siteId: string | undefined, reason: string): void {
    if (state.reported) return;
    state.reported = true;
    this.options.onRefusedConnection?.({ connection: clipText(link.id, 64), siteId, refusals: state.refusals, reason: clipText(reason) });
  }

  private hello(link: SiteLink, hello: Hello): void {
    const { registry } = this.options;
    const verdict = this.options.authorize ? this.options.authorize(hello, link) : true;
    const ok = verdict === true || (typeof verdict === 'object' && verdict.ok);
    if (!ok) {
      const refusal = typeof verdict === 'object' && !verdict.ok ? verdict : undefined;
      this.refuse(link, refusal?.code ?? 'unauthorized', refusal?.reason ?? `site ${hello.siteId} is not allowed to join`);
      link.close();
      return;
    }
    const cooling = this.cutSites.left(hello.siteId, this.now());
    if (cooling > 0) {
      this.refuse(link, 'rate_limited', `site ${hello.siteId} was cut for more than ${this.limits.maxRefusals} refused messages: it may join again in ${Math.ceil(cooling / 1000)} s`);
      link.close();
      return;
    }
    if (this.options.place) {
      const placed = this.options.place(hello, link);
      if (!placed.ok && (hello.capabilities.alternatives ?? 0) > 0) {
        this.refuse(link, 'node_busy', placed.reason);
        link.close();
        return;
      }
    }
    const authenticated = typeof verdict === 'object' && verdict.ok && verdict.authenticated === true;
    const previous = registry.get(hello.siteId);
    if (previous && previous.link !== link) {
      const silentMs = this.now() - previous.lastSeen;
      const alive = !previous.link.closed && silentMs < this.limits.heartbeatTimeoutMs;
      if (alive && !authenticated) {
        this.refuse(
          link,
          'site_in_use',
          `site ${hello.siteId} is connected and alive (heard from ${Math.round(silentMs / 1000)} s ago): its name is free once that connection closes or is silent for ${Math.round(this.limits.heartbeatTimeoutMs / 1000)} s`,
        );
        link.close();
        return;
      }
    }
    // Counted only for a hello that would join (a refused one costs the name nothing here).
    const join = this.joinsByName?.take(hello.siteId);
    if (join && !join.ok) {
      this.refuse(link, 'rate_limited', `site ${hello.siteId} joined more than ${this.limits.joinsPerMinute} times in a minute (connectionLimits.joinsPerMinute): it may join again in ${Math.ceil(join.retryAfterMs / 1000)} s`);
      link.close();
      return;
    }
    if (previous && previous.link !== link) {
      // Its old connection is gone or silent (a site reconnecting after a network blip), or the hello
      // proved the name with a token: the new connection takes the name.
      registry.leave(previous.link);
      previous.link.close();
    }
    const site = registry.join(link, hello, this.options.pendingUntilTermsAccepted);
    link.send('welcome', { protocol: PROTOCOL_VERSION, runId: this.options.runId, siteId: hello.siteId });
    this.options.onJoined(site, hello, previous && previous.link !== link ? previous : undefined);
  }
}
