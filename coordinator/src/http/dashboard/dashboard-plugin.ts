import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { FedtuneError } from '@fedtune/shared';
import type { LiveStatus } from '../build-app.ts';
import { LiveEvents } from './live-events.ts';
import { DASHBOARD_CSP, RAW_SECURITY_HEADERS } from '../security-headers.ts';
import { sendStaticFile } from './static-files.ts';

/**
 * The open `/api/events` responses. They must end before socket.io closes the HTTP server (its close waits
 * for every connection), so buildApp ends them in a preClose hook registered ahead of the transport's.
 */
export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  add(res: ServerResponse): void {
    this.open.add(res);
  }

  delete(res: ServerResponse): void {
    this.open.delete(res);
  }

  get size(): number {
    return this.open.size;
  }

  endAll(): void {
    for (const res of this.open) {
      res.end();
      // No keep-alive afterwards: the connection must not hold the server open either.
      res.socket?.end();
    }
    this.open.clear();
  }
}

export interface DashboardOptions {
  /** Where the plugin keeps its open event streams (buildApp ends them on close). */
  streams?: EventStreams;
  /** The engine's events; without it the dashboard shows the live status and runs on disk only. */
  events?: LiveEvents;
  live?: () => LiveStatus | undefined;
  /** The built browser site (client-web's `vite build`), served at /site/. */
  siteDir?: string;
  /** How often connected dashboards get the live status (sites' last seen), in ms. */
  livePeriodMs?: number;
}

const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
export const DEFAULT_SITE_DIR = fileURLToPath(new URL('../../../../client-web/dist/', import.meta.url));

/**
 * Most bytes an event stream may have queued for its client beyond its snapshot: a client that reads slower
 * than the run produces events (or never reads) is cut there, not held in memory; the dashboard reconnects
 * and gets a new snapshot. Every write counts as activity, so no idle timeout would ever close it.
 */
export const MAX_UNREAD_EVENT_BYTES = 8 * 1024 * 1024;

/**
 * Most event streams open at once (dashboards: a few per operator). Each never ends and may hold its snapshot
 * and MAX_UNREAD_EVENT_BYTES; past this a new one is refused (429 rate_limited) until one closes.
 */
export const MAX_EVENT_STREAMS = 64;

const IDLE: LiveStatus = { runId: '', phase: 'idle', sites: [] };

/**
 * The dashboard at `/` (static page + server-sent events at `/api/events`) and the browser site at
 * `/site/`. Register with `app.register(dashboardPlugin, options)`.
 */
export async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const siteDir = options.siteDir ?? DEFAULT_SITE_DIR;
  const events = options.events ?? new LiveEvents();
  const streams = options.streams ?? new EventStreams();
  const live = () => options.live?.() ?? IDLE;
  if (!options.streams) app.addHook('preClose', async () => streams.endAll());

  app.get('/', async (_request, reply) => sendStaticFile(reply.header('content-security-policy', DASHBOARD_CSP), ASSETS_DIR, 'index.html'));
  app.get<{ Params: { '*': string } }>('/dashboard/*', async (request, reply) => sendStaticFile(reply.header('content-security-policy', DASHBOARD_CSP), ASSETS_DIR, request.params['*']));

  app.get('/site', async (_request, reply) => reply.redirect('/site/'));
  app.get<{ Params: { '*': string } }>('/site/*', async (request, reply) => {
    if (!existsSync(siteDir)) {
      // Where it looked stays in the log: the route is open to anyone, who need not learn where fedtune is installed.
      request.log.warn({ siteDir }, 'the browser site is not built');
      throw new FedtuneError('not_found', 'the browser site is not built on this coordinator: run "npm run build" there');
    }
    return sendStaticFile(reply, siteDir, request.params['*']);
  });

  /**
   * Server-sent events: `snapshot` (live status, the engine events LiveEvents replays and the site counts) on connect, then `engine`
   * per engine event and `live` (phase, round, sites with last seen) after each event and periodically.
   */
  app.get('/api/events', { config: { admin: true } }, (request, reply) => {
    if (streams.size >= MAX_EVENT_STREAMS) throw new FedtuneError('rate_limited', `too many open event streams (${MAX_EVENT_STREAMS}): close a dashboard, then retry`);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no', ...RAW_SECURITY_HEADERS });
    let allowance = MAX_UNREAD_EVENT_BYTES;
    const send = (name: string, data: unknown) => {
      if (res.writableEnded) return;
      // Destroyed, not ended: an end would wait behind everything queued.
      if (res.writableLength > allowance) {
        res.destroy();
        return;
      }
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    streams.add(res);
    send('snapshot', { live: live(), ...events.history() });
    allowance += res.writableLength;
    const unsubscribe = events.subscribe((event) => {
      send('engine', event);
      send('live', live());
    });
    const timer = setInterval(() => send('live', live()), options.livePeriodMs ?? 2000);
    timer.unref();
    request.raw.on('close', () => {
      unsubscribe();
      clearInterval(timer);
      streams.delete(res);
    });
  });
}
