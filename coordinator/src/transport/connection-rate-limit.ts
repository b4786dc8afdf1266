import type { IncomingMessage } from 'node:http';
import { addressKey } from '../access/address-key.ts';
import { RateLimiter } from '../access/rate-limiter.ts';

/** New websocket connections one address may open: `connectionsPerSecond` on average, in bursts of `connectionBurst`. */
export interface ConnectionRateLimits {
  connectionsPerSecond: number;
  connectionBurst: number;
}

/** engine.io's `allowRequest`: called for every new connection's handshake (the websocket's upgrade request). */
export type AllowRequest = (req: IncomingMessage, callback: (message: string | null | undefined, success: boolean) => void) => void;

/**
 * Limits how fast one address (an IPv6 peer by its /64: address-key.ts) may open connections, as a token bucket,
 * before any of a connection's work: engine.io refuses the upgrade request (HTTP 400 with the message) before the
 * websocket exists. The HTTP rate limit never sees these requests — node's HTTP server hands an upgrade to
 * engine.io, not to fastify — so before this (until 2026-12-07) one process opening and closing connections as
 * fast as it could, each with a bad hello, made ~330 a second here, every one a websocket, an engine.io
 * handshake, a namespace and a parsed hello. The caps on connections open at once (unwelcomed-connections.ts)
 * bound what is held, not this churn.
 */
export function connectionRateLimit(limits: ConnectionRateLimits, now: () => number = Date.now): AllowRequest {
  const limiter = new RateLimiter({ ratePerSecond: limits.connectionsPerSecond, burst: limits.connectionBurst }, now);
  return (req, callback) => {
    const key = addressKey(req.socket.remoteAddress);
    const decision = limiter.take(key);
    if (decision.ok) callback(null, true);
    else callback(`too many new connections from ${key}: retry in ${Math.ceil(decision.retryAfterMs / 1000)} s`, false);
  };
}
