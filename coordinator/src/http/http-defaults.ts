/**
 * Where and how the coordinator's HTTP server listens by default; the command line and the server read
 * these, and nothing else repeats them.
 */

/** Loopback only: exposing the coordinator is a choice (`--host 0.0.0.0`), and then it needs an admin token. */
export const DEFAULT_HOST = '127.0.0.1';

export const DEFAULT_PORT = 8080;

/** Largest request body (JSON) the API reads: a run configuration is a few kB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Timeouts of the HTTP server, in ms. Upgraded socket.io (WebSocket) connections are not subject to them. */
export interface HttpTimeouts {
  /** A request's headers must have arrived within this (slowloris). */
  headersMs: number;
  /** A whole request (headers and body) must have arrived within this. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: number;
  /** A socket with no activity at all is closed after this (long above socket.io's 25 s polling interval). */
  idleMs: number;
  /** How often node checks the header and request timeouts. */
  checkIntervalMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 120_000,
  keepAliveMs: 5_000,
  idleMs: 60_000,
  checkIntervalMs: 1_000,
};
