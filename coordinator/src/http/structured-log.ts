import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { oneLine } from '@fedtune/shared';
import { makeDirectories } from '@fedtune/shared/node';
import type { EngineEvent } from '../engine/round-engine.ts';
import { summarizeRound } from './run-control.ts';

export interface FileLogger {
  logger: Logger;
  /** Flushes and closes the file. */
  close(): void;
}

/**
 * A pino logger writing JSON lines to `path` (appending; the directory is created). Writes are
 * synchronous, so a line is on disk when the call returns and nothing is lost if the process dies.
 */
export function createFileLogger(path: string, bindings: Record<string, unknown> = {}, level = 'info'): FileLogger {
  makeDirectories(dirname(path));
  const destination = pino.destination({ dest: path, sync: true, append: true });
  const logger = pino({ level, base: { service: 'fedtune-coordinator', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime, serializers: { req: requestForLog } }, destination);
  return {
    logger,
    close() {
      destination.flushSync();
      destination.end();
    },
  };
}

/**
 * What a request's log line says of it (fastify logs `{ req }` per request): method, URL and address, the URL
 * with its secrets redacted (redactUrl), then clipped — a client chooses it, up to the 16 KB of headers node accepts.
 */
export function requestForLog(req: { method?: unknown; url?: unknown; ip?: unknown; socket?: { remoteAddress?: unknown } }): { method: string; url: string; remoteAddress?: string } {
  const address = req.ip ?? req.socket?.remoteAddress;
  return { method: oneLine(String(req.method ?? ''), 16), url: oneLine(redactUrl(String(req.url ?? '')), 300), ...(typeof address === 'string' ? { remoteAddress: address } : {}) };
}

/** Query parameters whose value is a secret: a browser join link's `token`, and anything named like one. */
const SECRET_PARAM = /token|secret|key|passw|auth|credential|signature/i;

/** What a logged URL shows of a secret parameter's value. */
export const REDACTED = '[redacted]';

/**
 * `url` (a request target: path and query) with the value of every secret-named query parameter replaced by
 * [redacted] (`/site/?server=…&token=abc` → `/site/?server=…&token=[redacted]`); the rest kept byte for byte.
 * A name is matched decoded (`to%6Ben`), so an encoding does not hide it.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const end = hash === -1 ? url.length : hash;
  const params = url
    .slice(q + 1, end)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      // A name with no value has nothing to hide.
      if (eq === -1) return part;
      const raw = part.slice(0, eq);
      let name = raw;
      try {
        name = decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: matched as written.
      }
      return SECRET_PARAM.test(name) ? `${raw}=${REDACTED}` : part;
    });
  return `${url.slice(0, q + 1)}${params.join('&')}${url.slice(end)}`;
}

/**
 * Free-text reasons can quote whatever a site sent: one line (no control or bidi characters), clipped to
 * MAX_QUOTED_CHARS without splitting a surrogate pair, as every other quoted text (shared's oneLine).
 */
const clip = (text: string) => oneLine(text);

/**
 * One log line per engine event, with identifiers, counts and metrics only: never weights, updates,
 * examples or the report itself. `event` names the kind (round_start, round_end, site_joined, …).
 */
export function logEngineEvent(log: Logger, e: EngineEvent): void {
  switch (e.type) {
    case 'site-joined':
      return log.info({ event: 'site_joined', siteId: e.siteId, backend: e.backend, runtime: e.runtime, numExamples: e.numExamples }, `site ${e.siteId} joined`);
    case 'site-refused':
      return log.warn({ event: 'site_refused_terms', siteId: e.siteId, reason: clip(e.reason) }, `site ${e.siteId} refused the run's terms: ${clip(e.reason)}`);
    case 'site-left':
      return log.info({ event: 'site_left', siteId: e.siteId, reason: clip(e.reason) }, `site ${e.siteId} left`);
    case 'waiting':
      return log.debug({ event: 'waiting', joined: e.joined, needed: e.needed }, `waiting for sites: ${e.joined} of ${e.needed}`);
    case 'pretrained':
      return log.info({ event: 'pretrained', accuracy: e.accuracy, loss: e.loss }, 'starting model evaluated');
    case 'round-start':
      return log.info({ event: 'round_start', round: e.round, attempt: e.attempt, selected: e.selected.length, sites: e.selected }, `round ${e.round} started`);
    case 'result':
      if (e.accepted) return log.debug({ event: 'update_accepted', round: e.round, siteId: e.siteId }, `update from ${e.siteId} accepted`);
      return log.warn({ event: 'update_rejected', round: e.round, siteId: e.siteId, code: e.code, reason: e.reason && clip(e.reason) }, `update from ${e.siteId} rejected: ${e.code}`);
    case 'result-held':
      return log.debug({ event: 'update_held', round: e.round, siteId: e.siteId }, `update from ${e.siteId} held until the round closes`);
    case 'round-retry':
      return log.warn({ event: 'round_retry', round: e.round, attempt: e.attempt, reason: clip(e.reason) }, `round ${e.round} retried`);
    case 'robustness-start':
      return log.info({ event: 'robustness_start', round: e.round }, `robustness evaluation of round ${e.round}`);
    case 'round-end': {
      // The same per-round summary the API serves (counts and metrics only), flattened for log search.
      const { global, privacy, federated: _federated, robustness: _robustness, modelDir: _modelDir, ...summary } = summarizeRound(e.record);
      return log.info({ event: 'round_end', ...summary, accuracy: global.accuracy, loss: global.loss, epsilon: privacy?.epsilon }, `round ${summary.round} done`);
    }
    case 'connection-refused':
      return log.warn(
        { event: 'connection_refused', connection: e.connection, siteId: e.siteId, refusals: e.refusals, reason: clip(e.reason) },
        `connection ${e.connection} closed after ${e.refusals} refused message(s)`,
      );
    case 'complete': {
      const rep = e.report;
      const level = rep.status === 'complete' ? 'info' : 'warn';
      return log[level]({ event: 'run_end', status: rep.status, rounds: rep.rounds.length, accuracy: rep.final?.accuracy, aborted: rep.aborted && clip(rep.aborted) }, `run ${rep.status}`);
    }
  }
}
