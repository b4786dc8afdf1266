import { z } from 'zod';

/**
 * How the coordinator treats a connection before and after its hello (site-connections.ts and the
 * socket.io transport). The defaults live here only; honest sites never come near them.
 */
export const ConnectionLimits = z.object({
  /** A connection that has not sent a valid hello this long after connecting is closed. */
  helloTimeoutMs: z.number().int().min(1).default(10_000),
  /**
   * A joined site silent (no heartbeat or other message) this long no longer holds its name: a new hello
   * for it takes its place. Sites send a heartbeat every 5 s (SiteClientOptions.heartbeatMs).
   */
  heartbeatTimeoutMs: z.number().int().min(1).default(30_000),
  /** A connection refused more than this many messages within `refusalWindowMs` is cut. */
  maxRefusals: z.number().int().min(1).default(20),
  refusalWindowMs: z.number().int().min(1).default(10_000),
  /** Messages a connection may queue while it waits for a run to take it; later ones are dropped. */
  maxQueuedMessages: z.number().int().min(1).default(16),
});

export type ConnectionLimits = z.output<typeof ConnectionLimits>;
export type ConnectionLimitsInput = z.input<typeof ConnectionLimits>;
