import { z } from 'zod';

/**
 * How the coordinator treats a connection before and after its hello (site-connections.ts and the
 * socket.io transport). The defaults live here only; honest sites never come near them.
 */
export const ConnectionLimits = z.object({
  /** A connection that has not sent a valid hello this long after connecting is closed. */
  helloTimeoutMs: z.number().int().min(1).default(10_000),
  /**
   * The largest message (bytes) a connection may send until the coordinator welcomes it (its hello accepted,
   * its token checked): a hello is under 2 KB. The websocket refuses a longer message from its frame header
   * (close 1009) before buffering any of it; once welcomed, the server's full message size (maxMessageBytes,
   * sized for the model's updates) applies. Without it, 50 connections that never say hello held 788 MB of
   * the coordinator's memory in 3 s with partial 15 MB frames.
   */
  preHelloMessageBytes: z.number().int().min(1024).default(64 * 1024),
  /**
   * Connections from one address that are open but not yet welcomed (no hello accepted): past it, a new one is
   * closed as it opens. Honest sites say hello as they connect, so even a gateway of 500+ sites starting together
   * stays far below; without a cap, one address held 5,000 connections open in 3 s (~40 KB each) and could go on
   * to the process's file-descriptor limit, where no site can connect.
   */
  maxUnwelcomedPerAddress: z.number().int().min(1).default(1024),
  /**
   * A joined site silent (no heartbeat or other message) this long no longer holds its name: a new hello
   * for it takes its place. Sites send a heartbeat every 5 s (SiteClientOptions.heartbeatMs).
   */
  heartbeatTimeoutMs: z.number().int().min(1).default(30_000),
  /**
   * A joined site's messages, as a token bucket: `messagesPerSecond` on average and bursts of `messageBurst`;
   * a message past them is refused ('rate_limited', a refusal like any other: enough of them and the connection
   * is cut). An honest site sends a heartbeat every 5 s and a few messages per round; without a bound a joined
   * peer's stream of valid heartbeats keeps the event loop busy for every other site.
   */
  messagesPerSecond: z.number().gt(0).max(1_000_000).default(200),
  messageBurst: z.number().int().min(1).max(1_000_000).default(1000),
  /**
   * Websocket frames a welcomed site's connection may send, as a token bucket: `framesPerSecond` on average and
   * bursts of `frameBurst`; past them the connection is cut (websocket-frame-budget.ts). Every frame counts: data,
   * continuation, ping, pong. A message takes one frame, or two with an attachment, so the message budget above
   * always binds first for an honest site; without this one a peer's stream of websocket pings or engine.io pongs
   * — which no message budget sees — held the event loop for seconds.
   */
  framesPerSecond: z.number().gt(0).max(1_000_000).default(1000),
  frameBurst: z.number().int().min(1).max(1_000_000).default(4000),
  /**
   * The same until the connection's site is welcomed (then the budget above applies, what was spent staying
   * spent): an honest site sends a handful of frames before its welcome (the namespace's connect, its hello, its
   * acceptance of the terms, an engine.io pong every 25 s). Low, as an address may hold `maxUnwelcomedPerAddress`
   * such connections: 1,024 of them at the welcomed budget could owe the event loop 4 M frames at once.
   */
  preHelloFramesPerSecond: z.number().gt(0).max(1_000_000).default(10),
  preHelloFrameBurst: z.number().int().min(1).max(1_000_000).default(64),
  /**
   * Websocket pings answered while the coordinator's writes to the connection wait (its peer does not read them);
   * then none until they have drained (websocket-pong-limit.ts). Before, a peer's pings — under its frame budget,
   * never reading — each left a pong queued in the coordinator's memory for as long as the connection lasted.
   */
  pongsWhileWritesWait: z.number().int().min(0).max(1_000_000).default(64),
  /**
   * New connections one address (an IPv6 peer by its /64) may open, as a token bucket: `connectionsPerSecond` on
   * average and bursts of `connectionBurst`; past them the websocket's upgrade request is refused (HTTP 400) before
   * any work (connection-rate-limit.ts). An honest site opens one connection a run (and one per reconnect, with
   * backoff); the burst lets as many sites as an address may hold unwelcomed (`maxUnwelcomedPerAddress`) join at once.
   */
  connectionsPerSecond: z.number().gt(0).max(1_000_000).default(50),
  connectionBurst: z.number().int().min(1).max(1_000_000).default(1024),
  /** A connection refused more than this many messages within `refusalWindowMs` is cut. */
  maxRefusals: z.number().int().min(1).default(20),
  refusalWindowMs: z.number().int().min(1).default(10_000),
  /**
   * A joined site whose connection was cut for too many refused messages may not join again (under its name)
   * for this long: its hellos are refused with `rate_limited`. Without it a peer holding a valid name (a site
   * token, or any free name in an open run) rejoined at once and repeated, every refused update a line in the
   * audit log and the log (290 MB an hour from one peer). An honest client's reconnect backoff (about 70 s in
   * all) outlasts the default. 0 turns it off.
   */
  refusalCutCooldownMs: z.number().int().min(0).max(86_400_000).default(30_000),
  /**
   * Joins one site name may make, as a token bucket: this many a minute on average, in bursts of as many; past
   * them a hello (even with a valid token) is refused with `rate_limited`, saying when it may join again. An honest
   * site joins once a run, and once per reconnect with backoff. Without it a peer holding a site token
   * reconnected ~150 times a second, each join a line in the audit log and the console (1.2 GB of audit log a day)
   * and each new connection a fresh set of the budgets below (7.6 GB of junk in 20 s). 0 turns it off.
   */
  joinsPerMinute: z.number().int().min(0).max(1_000_000).default(10),
  /**
   * Fan-in pacing: site updates are handled from a queue, in arrival order, for at most this long per turn
   * of the event loop (at least one message per turn); then health checks, heartbeats and timers run. Without
   * it, a round's updates that arrive together (say 500 of 400 KB) are validated and summed in one stall.
   */
  busyMsPerTurn: z.number().min(0).max(1000).default(5),
  /**
   * When this many messages wait in the fan-in queue, the joined sites' connections stop being read (flow
   * control: their updates wait in the network) until it has drained to half, so the event loop only reads what
   * it can handle and a burst of 500 updates does not stall health checks; messages read before the pause
   * took hold still queue, and beyond 4× this the oldest are handled at once (memory stays bounded).
   */
  fanInQueueLimit: z.number().int().min(1).max(100_000).default(32),
  /**
   * Updates read per turn of the event loop: once this many sites' updates have arrived in one turn, the joined
   * sites' connections are paused as when the queue is full (and resumed `resumeBatch` per turn: a quarter of the
   * queue's limit, at most this many). Reading
   * an update — ws joining its socket reads into one buffer, socket.io's and the schema's parse — happens in the
   * socket's read, before the fan-in queue: without a bound, the updates of every site whose bytes arrived
   * together were read in one turn (a third of the main thread's longest turns at 500 sites, CPU profile).
   */
  updatesReadPerTurn: z.number().int().min(1).max(100_000).default(8),
  /**
   * socket.io text packets (a message's JSON; its bytes travel as binary attachments) a connection may send: at
   * most this long (characters) each, and `textBytesPerSecond` on average with bursts of `textBytesBurst`. A
   * longer or faster one closes the connection before its JSON is parsed (bounded-socketio-parser.ts). Honest
   * sites send a few KB per round (the largest, a data summary, under 64 KB); without a bound a welcomed peer's
   * schema-valid heartbeats with a 13 MB unknown key held the event loop for seconds each.
   */
  maxTextMessageBytes: z.number().int().min(1024).default(1024 * 1024),
  textBytesPerSecond: z.number().int().min(1024).default(1024 * 1024),
  textBytesBurst: z.number().int().min(1024).default(4 * 1024 * 1024),
  /**
   * Binary attachments (an update's bytes, a masked vector) a connection may send: `binaryBytesPerSecond` on
   * average, in bursts of `binaryBurstMessages` messages of the largest size the server accepts. Past it the
   * connection is closed (bounded-socketio-parser.ts). An honest site sends one or two model-sized attachments
   * per round; without a bound a welcomed peer could stream largest-size attachments (each copied and parsed
   * before its schema refuses it) at the message budget's 200 a second.
   */
  binaryBytesPerSecond: z.number().int().min(1024).default(64 * 1024 * 1024),
  binaryBurstMessages: z.number().int().min(1).default(4),
  /** Messages a connection may queue while it waits for a run to take it; later ones are dropped. */
  maxQueuedMessages: z.number().int().min(1).default(16),
});

export type ConnectionLimits = z.output<typeof ConnectionLimits>;
export type ConnectionLimitsInput = z.input<typeof ConnectionLimits>;
