import { createReadStream } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Server } from 'socket.io';
import { FedtuneError, toFedtuneError, type ServerTransport } from '@fedtune/shared';
import { RunStore } from '../run/run-store.ts';
import { socketIoServerTransport } from '../transport/socketio-server-transport.ts';
import type { ConnectionLimitsInput } from '../engine/connection-limits.ts';
import { errorStatus } from './error-status.ts';
import { DEFAULT_API_RATE_LIMIT, RateLimiter, type RateLimit } from '../access/rate-limiter.ts';
import { dashboardPlugin, EventStreams } from './dashboard/dashboard-plugin.ts';
import type { LiveEvents } from './dashboard/live-events.ts';
import { errorResponses, LiveStatusSchema, ModelFileParam, ModelFileResponse, RunIdParam } from './api-schemas.ts';
import { registerOpenApi } from './openapi.ts';
import { registerOperationsRoutes } from './operations-routes.ts';
import type { RunControl, SiteHistory } from './run-control.ts';

export { LiveEvents, type LiveEvent } from './dashboard/live-events.ts';
export { DEFAULT_SITE_DIR } from './dashboard/dashboard-plugin.ts';
export type { RunControl, SiteHistory, SiteView, StopOutcome } from './run-control.ts';

export interface LiveStatus {
  runId: string;
  phase: string;
  round?: number;
  sites: Array<{ siteId: string; backend: string; runtime: string; lastSeen: string }>;
}

export interface AppOptions {
  /** Directory holding `runs/<run-id>/`. */
  runsDir: string;
  /** Largest socket.io message, in bytes; size it for the model (weights are sent whole). */
  maxMessageBytes: number;
  /** Hello deadline and queue bound of socket.io connections (defaults: engine/connection-limits.ts). */
  connectionLimits?: ConnectionLimitsInput;
  logger?: FastifyServerOptions['logger'];
  /** A pino logger for requests (e.g. JSON lines to a file); takes precedence over `logger`. */
  loggerInstance?: FastifyBaseLogger;
  /** The live state of the run this coordinator drives, if any. */
  live?: () => LiveStatus | undefined;
  /** The run's engine events, streamed to the dashboard at `/` (start-coordinator publishes them). */
  events?: LiveEvents;
  /** Prometheus text for `GET /metrics`. */
  metrics?: () => string;
  /** The built browser site served at `/site/` (default: client-web/dist). */
  siteDir?: string;
  /** Serve HTTPS (and WSS for socket.io) with this PEM certificate chain and key. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Token bucket per client address on `/api/*` (default 50/s, bursts of 100); false: none. */
  apiRateLimit?: RateLimit | false;
  /** The run this coordinator drives: its live sites and `POST /api/runs/:id/stop`. */
  control?: RunControl;
  /** Sites of runs recorded in the run database (`GET /api/runs/:id/sites` for runs not driven here). */
  database?: SiteHistory;
}

export interface CoordinatorApp {
  app: FastifyInstance;
  io: Server;
  transport: ServerTransport;
}

/**
 * Builds the coordinator's fastify app with socket.io attached to its HTTP server. Does not listen:
 * the caller does (`app.listen`), and tests use `app.inject`.
 */
export function buildApp(options: AppOptions): CoordinatorApp {
  // With `https` fastify builds an https.Server; the routes and socket.io are the same either way.
  const logging = options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: options.logger ?? false };
  const app = Fastify({ ...logging, bodyLimit: 1024 * 1024, ...(options.https ? { https: options.https } : {}) }) as unknown as FastifyInstance;
  const io = new Server(app.server, { maxHttpBufferSize: options.maxMessageBytes, serveClient: false, cors: { origin: true } });
  const transport = socketIoServerTransport(io, options.connectionLimits);
  const store = new RunStore(options.runsDir);
  const startedAt = Date.now();

  // The dashboard's event streams end first: socket.io's close below waits for every HTTP connection.
  const eventStreams = new EventStreams();
  app.addHook('preClose', async () => eventStreams.endAll());
  // preClose: socket.io's upgraded connections must go before the HTTP server can finish closing.
  app.addHook('preClose', async () => {
    await transport.close();
  });

  app.setErrorHandler((err: unknown, _request, reply) => {
    const fastifyStatus = (err as { statusCode?: number }).statusCode;
    const e = err instanceof FedtuneError ? err : toFedtuneError(err, (err as { validation?: unknown }).validation ? 'config' : 'internal');
    const status = err instanceof FedtuneError || !fastifyStatus ? errorStatus[e.code] : fastifyStatus;
    void reply.status(status).send({ error: { code: e.code, message: e.message } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
  });

  const apiLimit = options.apiRateLimit ?? DEFAULT_API_RATE_LIMIT;
  if (apiLimit) {
    const limiter = new RateLimiter(apiLimit);
    app.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/api/')) return;
      const d = limiter.take(request.ip);
      if (d.ok) return;
      const seconds = Math.ceil(d.retryAfterMs / 1000);
      return reply
        .status(errorStatus.rate_limited)
        .header('retry-after', String(seconds))
        .send({ error: { code: 'rate_limited', message: `too many requests from ${request.ip}; retry in ${seconds} s` } });
    });
  }

  // OpenAPI first: it records the routes registered after it (the API plugin below).
  registerOpenApi(app);
  void app.register(async (api) => {
    api.get('/api/health', {
      schema: {
        summary: 'liveness, uptime and the phase of the run this coordinator drives',
        tags: ['operations'],
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, uptimeS: { type: 'number' }, runId: { type: 'string' }, phase: { type: 'string' } }, required: ['status', 'uptimeS'] },
          ...errorResponses(),
        },
      },
    }, async () => {
      const live = options.live?.();
      return { status: 'ok', uptimeS: (Date.now() - startedAt) / 1000, runId: live?.runId, phase: live?.phase };
    });

    api.get('/api/runs', {
      schema: {
        summary: 'the runs on disk (runs/<id>/report.json), newest first',
        tags: ['runs'],
        response: {
          200: {
            type: 'object',
            properties: {
              runs: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    runId: { type: 'string' },
                    status: { type: 'string' },
                    startedAt: { type: 'string' },
                    rounds: { type: 'integer' },
                    accuracy: { type: 'number' },
                  },
                  required: ['runId', 'status', 'rounds'],
                },
              },
            },
            required: ['runs'],
          },
          ...errorResponses(),
        },
      },
    }, async () => ({
      runs: store.list().map((r) => ({ runId: r.runId, status: r.status, startedAt: r.startedAt, rounds: r.rounds.length, accuracy: r.final?.accuracy })),
    }));

    api.get<{ Params: { id: string } }>('/api/runs/:id', {
      schema: {
        summary: "a run's report (docs/report.md)",
        tags: ['runs'],
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' } }, required: ['id'] },
        response: { 200: { type: 'object', description: 'the run report (report.json)', additionalProperties: true }, ...errorResponses(404) },
      },
    }, async (request) => store.read(request.params.id));

    api.get<{ Params: { id: string; '*': string } }>('/api/runs/:id/model/*', {
      schema: {
        summary: "a file of the run's latest global model",
        tags: ['runs'],
        params: { type: 'object', properties: { id: RunIdParam, '*': ModelFileParam }, required: ['id', '*'] },
        response: { 200: ModelFileResponse, ...errorResponses(404) },
      },
    }, async (request, reply) => {
      const file = request.params['*'];
      const path = store.latestModelFile(request.params.id, file);
      void reply.type(file === 'model.json' ? 'application/json' : 'application/octet-stream');
      return reply.send(createReadStream(path));
    });

    api.get('/api/live', {
      schema: { summary: 'the live state of the run this coordinator drives', tags: ['operations'], response: { 200: LiveStatusSchema, ...errorResponses() } },
    }, async () => options.live?.() ?? { phase: 'idle', sites: [] });

    api.get('/metrics', {
      schema: {
        summary: 'Prometheus metrics (text format 0.0.4)',
        tags: ['operations'],
        response: { 200: { description: 'Prometheus text', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    }, async (_request, reply) => {
      void reply.type('text/plain; version=0.0.4; charset=utf-8');
      return options.metrics?.() ?? '';
    });

    registerOperationsRoutes(api, { store, control: options.control, database: options.database });
  });

  // The dashboard at `/` with its event stream, and the browser site at `/site/`.
  void app.register(dashboardPlugin, { events: options.events, live: options.live, siteDir: options.siteDir, streams: eventStreams });

  return { app, io, transport };
}
