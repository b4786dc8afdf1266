import type { Server } from 'socket.io';
import { clipText, packBinaryFields, type Hello, type ServerTransport, type SiteLink } from '@fedtune/shared';
import type { z } from 'zod';
import { CLUSTER_EVENTS, LeaderMessage, NodeAliveMessage, RelayClosedMessage, RelayMessage, type RelayedTokenVerdict } from './cluster-messages.ts';
import { RemoteSiteLink } from './remote-site-link.ts';
import { InstructionFanout } from './instruction-fanout.ts';
import { SiteSendsMessage } from './site-sends-messages.ts';
import { placeSite } from './site-placement.ts';
import type { PlacementVerdict } from '../engine/site-connections.ts';

export interface ClusterTransportOptions {
  nodeId: string;
  /** Most messages a remote site link queues before the engine takes it (ConnectionLimits.maxQueuedMessages). */
  maxQueuedMessages: number;
  maxRemoteSites: number;
  nodeHeartbeatMs: number;
  nodeTimeoutMs: number;
  /** The leader's share of the sites relative to a follower's (site-placement.ts); default 1: equal shares. */
  leaderWeight?: number;
  /**
   * A follower cuts a site connection that sends more than `maxRefusals` refused messages within
   * `refusalWindowMs`, as a single coordinator does (ConnectionLimits, where the defaults live).
   */
  maxRefusals: number;
  refusalWindowMs: number;
  onWarning?: (message: string) => void;
  now?: () => number;
  /**
   * Checks a site's token against the site registry (the runs directory's fedtune.db, shared by the nodes): a follower
   * relays its verdict with the hello, never the token. Absent (no registry): the hello is relayed as it came.
   */
  verifyToken?: (siteId: string, token: string | undefined) => z.infer<typeof RelayedTokenVerdict>;
}

type Listener = (...args: unknown[]) => void;

/** Most sites the leader remembers as sent on and not yet arrived (site placement's in-flight count). */
const MAX_SENT_ON = 10_000;

/**
 * A coordinator node's server transport in a cluster (docs/cluster.md). On the leader, the engine sees
 * every site of the cluster: the sockets of this node, and the sockets of the other nodes as
 * RemoteSiteLinks fed by relayed messages. On a follower, each site's schema-checked messages are relayed
 * to the leader over Redis and nothing reaches an engine here. When leadership changes, the sites'
 * connections are dropped so they join the new leader afresh (sites reconnect by themselves).
 */
export class ClusterTransport implements ServerTransport {
  private handler?: (link: SiteLink) => void;
  private readonly early: SiteLink[] = [];
  private readonly relayed = new Set<SiteLink>();
  private readonly remote = new Map<string, RemoteSiteLink>();
  /** Site connections placed on the leader and still open, by node (site placement's counts), and which are counted. */
  private readonly placed = new Map<string, number>();
  private readonly placedLinks = new WeakSet<SiteLink>();
  /** Sites the leader sent on (node_busy) and has not seen arrive anywhere yet → when (site placement's `pending`). */
  private readonly sentOn = new Map<string, number>();
  private readonly nodesSeen = new Map<string, number>();
  /** When each other node last sent its heartbeat (nodeAlive): the nodes a leader asks for work. */
  private readonly heartbeats = new Map<string, number>();
  private leading = false;
  private highestLeaderToken = 0;
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private readonly now: () => number;
  /** Messages from other nodes that failed their schema (dropped, never handled). */
  refusedClusterMessages = 0;
  /** Well-formed messages of other nodes refused by what handles them (partial aggregates' ledgers), by FedtuneError code. */
  readonly refusedByCode = new Map<string, number>();
  /** Site connections this node has relayed to a leader since it started. */
  relayedTotal = 0;
  /** The leader's outbox for its remote sites: one message per holding node per turn (instruction-fanout.ts). */
  readonly fanout: InstructionFanout;
  /** Relayed sites by socket id (follower): the only sockets the leader's batched sends may reach. */
  private readonly relayedById = new Map<string, SiteLink>();
  /** What crossed Redis from this node, by cluster event (server-side emits), and the leader's batched site messages a follower delivered or ignored. */
  readonly stats = { serverSideEmits: new Map<string, number>(), siteSendsDelivered: 0, siteSendsUnknownSocket: 0 };

  constructor(
    private readonly inner: ServerTransport,
    private readonly io: Server,
    private readonly options: ClusterTransportOptions,
  ) {
    this.now = options.now ?? Date.now;
    inner.onConnection((link) => this.onLocal(link));
    const on = (event: string, listener: Listener) => (io as unknown as { on(e: string, l: Listener): void }).on(event, listener);
    on(CLUSTER_EVENTS.relay, (raw) => this.guarded(RelayMessage, raw, (m) => this.onRelay(m)));
    on(CLUSTER_EVENTS.relayClosed, (raw) => this.guarded(RelayClosedMessage, raw, (m) => this.remote.get(m.socket)?.node === m.node && this.remote.get(m.socket)!.closedRemotely(m.reason)));
    on(CLUSTER_EVENTS.nodeAlive, (raw) =>
      this.guarded(NodeAliveMessage, raw, (m) => {
        this.nodesSeen.set(m.node, this.now());
        this.heartbeats.set(m.node, this.now());
      }),
    );
    on(CLUSTER_EVENTS.leader, (raw) => this.guarded(LeaderMessage, raw, (m) => this.onLeader(m)));
    this.fanout = new InstructionFanout({ nodeId: options.nodeId, send: (m) => this.emitToNodes(CLUSTER_EVENTS.siteSends, m) });
    on(CLUSTER_EVENTS.siteSends, (raw) => this.guarded(SiteSendsMessage, raw, (m) => this.onSiteSends(m)));
    const beat = setInterval(() => {
      this.emitToNodes(CLUSTER_EVENTS.nodeAlive, { node: options.nodeId, sites: this.relayed.size });
      this.closeSilentNodes();
    }, options.nodeHeartbeatMs);
    beat.unref?.();
    this.timers.push(beat);
  }

  /** The other nodes whose heartbeat came within the node timeout, sorted: the followers a leader can ask for work. */
  liveNodes(): string[] {
    const t = this.now();
    return [...this.heartbeats].filter(([node, seen]) => node !== this.options.nodeId && t - seen <= this.options.nodeTimeoutMs).map(([node]) => node).sort();
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** Site connections held for sites on other nodes (leader only). */
  get remoteSites(): number {
    return this.remote.size;
  }

  /** Site connections of this node relayed to the leader (follower only). */
  get relayedSites(): number {
    return this.relayed.size;
  }

  /**
   * A follower's site messages pass this first (follower-partial-rounds.ts): when it returns true the
   * message was handled on this node and is not relayed.
   */
  interceptSiteMessage?: (link: SiteLink, message: { event: string; payload: unknown }) => boolean;

  /**
   * Runs before a site's message or the close of its connection is relayed (follower-partial-rounds.ts: the
   * acceptance records waiting in their batch go first). Redis keeps one node's messages in order, so the leader
   * learns of a site's folded update before anything the site sent after it: before, a second copy of the update,
   * a siteFailure or the connection's close overtook the record — a duplicate then cost the node's whole partial
   * (every other site of the node left out of the round), a failure or close recorded the site failed and accepted.
   */
  beforeRelay?: () => void;

  /** Handles another node's messages of `event`, parsed by `schema` first (refusals counted as the transport's own). */
  onClusterMessage<T>(event: string, schema: z.ZodType<T>, use: (message: T) => unknown): void {
    (this.io as unknown as { on(e: string, l: Listener): void }).on(event, (raw) => this.guarded(schema, raw, use));
  }

  /** Another node's message refused after its schema (e.g. by a ledger): counted with the malformed ones. */
  refuse(what: string, err: unknown): void {
    this.refusedClusterMessages++;
    const code = clipText(String((err as { code?: unknown })?.code ?? 'invalid'), 64);
    this.refusedByCode.set(code, (this.refusedByCode.get(code) ?? 0) + 1);
    if (this.refusedClusterMessages === 1 || this.refusedClusterMessages % 1000 === 0) {
      const e = err as { code?: unknown; message?: unknown };
      this.options.onWarning?.(`refused ${this.refusedClusterMessages} cluster message(s) from other nodes; latest: ${clipText(what, 64)}: ${clipText(String(e?.code ?? 'invalid'), 64)}: ${clipText(String(e?.message ?? err))}`);
    }
  }

  /** The site connection of another node that the leader knows by this socket id (leader only). */
  remoteLink(socket: string): RemoteSiteLink | undefined {
    return this.remote.get(socket);
  }

  onConnection(handler: (link: SiteLink) => void): void {
    this.handler = handler;
    for (const link of this.early.splice(0)) if (!link.closed) handler(link);
  }

  /** This node took the lease: its own sites rejoin here, and the other nodes drop theirs so they rejoin through them. */
  becomeLeader(token: number): void {
    this.leading = true;
    this.highestLeaderToken = Math.max(this.highestLeaderToken, token);
    for (const link of [...this.relayed]) link.close();
    this.emitToNodes(CLUSTER_EVENTS.leader, { node: this.options.nodeId, token });
  }

  /** This node no longer leads: the sites it served (its own and the relayed ones) must rejoin the new leader. */
  becomeFollower(): void {
    this.leading = false;
    for (const link of [...this.remote.values()]) link.closedRemotely('this coordinator node no longer leads the cluster');
    this.remote.clear();
    for (const link of this.early.splice(0)) link.close();
  }

  private onLocal(link: SiteLink): void {
    if (this.leading) {
      if (this.handler) this.handler(link);
      else this.early.push(link);
      return;
    }
    this.relay(link);
  }

  /** A follower passes a site's messages (each already parsed by the link's schemas) on to the leader. */
  private relay(link: SiteLink): void {
    this.relayed.add(link);
    this.relayedById.set(link.id, link);
    this.relayedTotal++;
    let refusedAt: number[] = [];
    link.onMessage((message) => {
      if (this.interceptSiteMessage?.(link, message)) return;
      this.relaySiteMessage(link, message);
    });
    link.onInvalid((error) => {
      link.send('rejected', { code: clipText(error.code, 64), reason: clipText(error.message) });
      const t = (this.options.now ?? Date.now)();
      refusedAt = refusedAt.filter((at) => t - at < this.options.refusalWindowMs);
      refusedAt.push(t);
      if (refusedAt.length > this.options.maxRefusals) link.close();
    });
    link.onClose((reason) => {
      this.relayed.delete(link);
      if (this.relayedById.get(link.id) === link) this.relayedById.delete(link.id);
      this.beforeRelay?.();
      this.emitToNodes(CLUSTER_EVENTS.relayClosed, { node: this.options.nodeId, socket: link.id, reason: clipText(reason) });
    });
  }

  /** Passes one of this node's site's messages (already parsed by its link) to the leader over Redis. */
  relaySiteMessage(link: SiteLink, message: { event: string; payload: unknown }): void {
    this.beforeRelay?.();
    if (message.event !== 'hello') {
      this.emitToNodes(CLUSTER_EVENTS.relay, { node: this.options.nodeId, socket: link.id, event: message.event, payload: packBinaryFields(message.payload) });
      return;
    }
    const address = link.remoteAddress !== undefined ? { address: link.remoteAddress.slice(0, 64) } : {};
    const verify = this.options.verifyToken;
    let payload = message.payload;
    let token = {};
    if (verify) {
      // The hello passed the site schemas on this node's link: siteId is a checked name, token a bounded string or absent.
      const { token: presented, ...rest } = message.payload as { siteId: string; token?: string };
      payload = rest;
      token = { tokenVerdict: presented === undefined ? { ok: false, reason: 'token required' } : verify(rest.siteId, presented) };
    }
    this.emitToNodes(CLUSTER_EVENTS.relay, { node: this.options.nodeId, socket: link.id, event: message.event, payload: packBinaryFields(payload), ...address, ...token });
  }

  private onRelay(m: RelayMessage): void {
    if (!this.leading || m.node === this.options.nodeId) return;
    this.nodesSeen.set(m.node, this.now());
    let link = this.remote.get(m.socket);
    if (link && link.node !== m.node) return;
    if (!link) {
      // A socket whose hello went to an earlier leader: it must join again (the site reconnects by itself).
      if (m.event !== 'hello' || this.remote.size >= this.options.maxRemoteSites) {
        this.io.in(m.socket).disconnectSockets(true);
        return;
      }
      const created = new RemoteSiteLink(m.socket, m.node, this.io, this.options.maxQueuedMessages, this.fanout, m.address, m.tokenVerdict);
      link = created;
      this.remote.set(m.socket, created);
      created.onClose(() => {
        if (this.remote.get(m.socket) === created) this.remote.delete(m.socket);
      });
      if (this.handler) this.handler(created);
      else this.early.push(created);
    }
    link.deliver(m.event, m.payload);
  }

  /** Site connections placed on the leader and still open, by the node holding them (this node under its id). */
  siteCounts(): ReadonlyMap<string, number> {
    return this.placed;
  }

  /** Counts a connection the leader placed at `node` until it closes (each connection once). */
  private countPlaced(node: string, link: SiteLink): void {
    if (this.placedLinks.has(link)) return;
    this.placedLinks.add(link);
    this.placed.set(node, (this.placed.get(node) ?? 0) + 1);
    link.onClose(() => {
      const n = (this.placed.get(node) ?? 1) - 1;
      if (n > 0) this.placed.set(node, n);
      else this.placed.delete(node);
    });
  }

  /**
   * Whether a site whose hello reached the leader through `link` should join through that node, or connect to
   * another (site-placement.ts): the connections placed so far and still open, counted by node, the hello's at its
   * own, weighed over the live nodes (this one and the followers heard from); a site taken is counted until its
   * connection closes. On a follower: always here (a follower's engine does not run).
   */
  placeSite(hello: Hello, link: SiteLink): PlacementVerdict {
    if (!this.leading) return { ok: true };
    // This site has arrived: no longer in flight. Entries older than the node timeout are dropped (oldest first).
    this.sentOn.delete(hello.siteId);
    const t = this.now();
    for (const [siteId, at] of this.sentOn) {
      if (t - at <= this.options.nodeTimeoutMs) break;
      this.sentOn.delete(siteId);
    }
    const at = link instanceof RemoteSiteLink ? link.node : this.options.nodeId;
    if ((hello.capabilities.alternatives ?? 0) === 0) {
      this.countPlaced(at, link);
      return { ok: true };
    }
    const sites = new Map<string, number>([[this.options.nodeId, this.placed.get(this.options.nodeId) ?? 0]]);
    for (const node of this.liveNodes()) sites.set(node, this.placed.get(node) ?? 0);
    // The joining site counts at its node.
    sites.set(at, (sites.get(at) ?? 0) + 1);
    // Hellos sent on under made-up names (possible only where any site may join: without site tokens) make the
    // cluster look larger for the node timeout: the nodes then take more than their share, no more. Bounded in
    // memory by MAX_SENT_ON.
    const verdict = placeSite(at, { leader: this.options.nodeId, sites, pending: this.sentOn.size }, this.options.leaderWeight ?? 1);
    // Bounded: one entry per site sent on within the node timeout, at most MAX_SENT_ON (a site id is ≤ 128 characters).
    if (!verdict.ok && this.sentOn.size < MAX_SENT_ON) this.sentOn.set(hello.siteId, t);
    if (verdict.ok) this.countPlaced(at, link);
    return verdict;
  }

  /** The leader's batched messages for this node's sites (follower): each goes to its socket; sockets this node does not relay are ignored and counted. */
  private onSiteSends(m: SiteSendsMessage): void {
    if (this.leading || m.to !== this.options.nodeId || m.node === this.options.nodeId) return;
    for (const { socket, event, payload } of m.sends) {
      const link = this.relayedById.get(socket);
      if (!link) {
        this.stats.siteSendsUnknownSocket++;
        continue;
      }
      this.stats.siteSendsDelivered++;
      link.sendUnchecked(event, payload);
    }
  }

  private onLeader(m: LeaderMessage): void {
    if (m.node === this.options.nodeId || m.token < this.highestLeaderToken) return;
    this.highestLeaderToken = m.token;
    // Sites that joined through this node joined an earlier leader: they rejoin the new one.
    for (const link of [...this.relayed]) link.close();
  }

  private closeSilentNodes(): void {
    if (!this.leading) return;
    const t = this.now();
    for (const link of [...this.remote.values()]) {
      const seen = this.nodesSeen.get(link.node) ?? 0;
      if (t - seen > this.options.nodeTimeoutMs) link.closedRemotely(`coordinator node ${link.node} went silent`);
    }
  }

  private guarded<T>(schema: z.ZodType<T>, raw: unknown, use: (message: T) => unknown): void {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      this.refusedClusterMessages++;
      if (this.refusedClusterMessages === 1 || this.refusedClusterMessages % 1000 === 0) {
        this.options.onWarning?.(`refused ${this.refusedClusterMessages} malformed cluster message(s) from other nodes: ${clipText(parsed.error.issues[0]?.message ?? 'invalid')}`);
      }
      return;
    }
    try {
      use(parsed.data);
    } catch (err) {
      this.options.onWarning?.(`could not handle a cluster message: ${clipText((err as Error)?.message ?? err)}`);
    }
  }

  /**
   * One message to the other nodes (a server-side emit through Redis), counted in `stats`. The site messages
   * waiting in the outbox go first, so that nothing this node says overtakes them (e.g. the run's end before
   * the sites' last instruction): Redis keeps one node's messages in order.
   */
  emitToNodes(event: string, payload: unknown): void {
    if (event !== CLUSTER_EVENTS.siteSends && this.fanout.pending > 0) this.fanout.flush();
    this.stats.serverSideEmits.set(event, (this.stats.serverSideEmits.get(event) ?? 0) + 1);
    try {
      this.io.serverSideEmit(event, payload);
    } catch (err) {
      this.options.onWarning?.(`could not reach the other nodes: ${clipText((err as Error)?.message ?? err)}`);
    }
  }

  async close(): Promise<void> {
    this.fanout.flush();
    for (const t of this.timers) clearInterval(t);
    for (const link of [...this.remote.values()]) link.closedRemotely('coordinator node closing');
    await this.inner.close();
  }
}
