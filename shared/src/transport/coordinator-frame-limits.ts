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
    /**
     * The largest message the coordinator may send before the site has accepted the run's terms (a welcome and the
     * terms, with a text model's vocabulary, are a few MB at most); past it the websocket is closed (1009) as the frame
     * header is read, before any of it is buffered. Accepting the terms raises it for the run's model
     * (`messageBytesForModel`). Before (until 2026-12-07) a coordinator could make a site buffer and parse messages of
     * up to ws's 100 MiB, ten such attachments to a packet, before any check.
     */
    preTermsMessageBytes: z.number().int().min(1024).max(2 ** 31).default(16 * 1024 * 1024),
    /** Pings answered while the site's writes wait (its coordinator is not reading them): websocket-pong-limit.ts. */
    pongsWhileWritesWait: z.number().int().min(0).max(1_000_000).default(64),
  })
  .strict();
export type CoordinatorFrameLimits = z.infer<typeof CoordinatorFrameLimits>;
export type CoordinatorFrameLimitsInput = z.input<typeof CoordinatorFrameLimits>;

/**
 * The largest message a coordinator sends a site in a run of a model of `parameters` parameters: an instruction
 * carries at most two sets of its weights (a site report's global and pretrained; float32, 4 bytes each) in one
 * attachment; a third of margin and 1 MiB for the JSON around them. Never below the pre-terms limit.
 */
export function messageBytesForModel(parameters: number, preTermsMessageBytes: number): number {
  return Math.max(preTermsMessageBytes, 3 * 4 * parameters + 1024 * 1024);
}
