import { z } from 'zod';

/**
 * What a site (Node) lets its coordinator's websocket send it, as a token bucket: `framesPerSecond` on average and
 * bursts of `frameBurst`; past them the site cuts the connection (websocket-frame-budget.ts). Every frame counts:
 * data, continuation, ping, pong, close. An honest coordinator sends a site a few messages per round (one frame
 * each, one more per binary attachment) and an engine.io ping every 25 s; a hostile one's stream of pings or of
 * messages would otherwise keep the site's event loop busy (and its answers in memory) for as long as it liked.
 * The same defaults as the coordinator's budget for a welcomed site (connectionLimits.framesPerSecond, frameBurst).
 */
export const CoordinatorFrameLimits = z
  .object({
    framesPerSecond: z.number().gt(0).max(1_000_000).default(1000),
    frameBurst: z.number().int().min(1).max(1_000_000).default(4000),
    /** Pings answered while the site's writes wait (its coordinator is not reading them): websocket-pong-limit.ts. */
    pongsWhileWritesWait: z.number().int().min(0).max(1_000_000).default(64),
  })
  .strict();
export type CoordinatorFrameLimits = z.infer<typeof CoordinatorFrameLimits>;
export type CoordinatorFrameLimitsInput = z.input<typeof CoordinatorFrameLimits>;
