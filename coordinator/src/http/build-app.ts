import { allowRequestOf, webPageJoinCheck } from '../transport/web-page-join-check.ts';
import { lazySchemaCompilers } from './lazy-schema-compilers.ts';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { Server } from 'socket.io';
import { clipText, FedtuneError, type ServerTransport } from '@fedtune/shared';
import { RunStore } from '../run/run-store.ts';
import { socketIoServerTransport } from '../transport/socketio-server-transport.ts';
import { DEFAULT_API_RATE_LIMIT, type RateLimit } from '../access/rate-limiter.ts';
import type { AdminGuard } from '../access/admin-guard.ts';
import { crossSiteRequest, type BrowserHeaders } from '../access/cross-site-request.ts';
import { registerApiRateLimit } from './api-rate-limit.ts';
import { clientErrorHandler, describeHttpError } from './http-error.ts';
import { DEFAULT_BODY_LIMIT, DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from './http-defaults.ts';
import { registerJsonBodyParser } from './json-body.ts';
import { ConnectionLimits, type ConnectionLimitsInput } from '../engine/connection-limits.ts';
import { boundedSocketIoParser } from '../transport/bounded-socketio-parser.ts';
import { connectionRateLimit } from '../transport/connection-rate-limit.ts';
import { dashboardPlugin, EventStreams } from './dashboard/dashboard-plugin.ts';
import type { LiveEvents } from './dashboard/live-events.ts';
import { errorResponses, LiveStatusSchema } from './api-schemas.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { registerOpenApi } from './openapi.ts';
import { registerOperationsRoutes } from './operations-routes.ts';
import { registerReportHtmlRoute } from './report-html-route.ts';
import type { RunControl, SiteHistory } from './run-control.ts';
import { registerTermsRoute, type TermsRouteOptions } from './terms-route.ts';
import { registerModelWeightsRoute, type ModelWeightsRouteOptions } from './model-weights-route.ts';
import type { AuditAccessOptions } from '../access/audit-access.ts';

export { LiveEvents, type LiveEvent } from './dashboard/live-events.ts';
export { DEFAULT_SITE_DIR, MAX_EVENT_STREAMS, MAX_UNREAD_EVENT_BYTES } from './dashboard/dashboard-plugin.ts';
export type { RunControl, SiteHistory, SiteView, StopOutcome } from './run-control.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route belongs to the control plane: it needs the admin token where AppOptions.admin says so. */
    admin?: boolean;
  }
}

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
  /**
   * The run's id and phase only, for `GET /api/health` (constant time: `live` lists every site, and health is
   * polled often). Without it health reads `live`.
   */
  liveSummary?: () => Pick<LiveStatus, 'runId' | 'phase'> | undefined;
  /** The run's engine events, streamed to the dashboard at `/` (start-coordinator publishes them). */
  events?: LiveEvents;
  /** Prometheus text for `GET /metrics`. */
  metrics?: () => string;
  /** The built browser site served at `/site/` (default: client-web/dist). */
  siteDir?: string;
  /** Serve HTTPS (and WSS for socket.io) with this PEM certificate chain and key. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Token bucket per client address and route group (`/api/*`, `/metrics`, `/docs/*`, …; the routed path,
   * however the URL was spelled), default 50/s with bursts of 100; false: none.
   */
  apiRateLimit?: RateLimit | false;
  /**
   * Who may use the control plane: routes with `config: { admin: true }` (creating, starting and stopping
   * runs; everything that lists site names). Absent: anyone (the caller decides; createCoordinatorServer
   * always gives one).
   */
  admin?: AdminGuard;
  /** HTTP server timeouts (default DEFAULT_HTTP_TIMEOUTS). */
  timeouts?: Partial<HttpTimeouts>;
  /** The run this coordinator drives: its live sites and `POST /api/runs/:id/stop`. */
  control?: RunControl;
  /** Sites of runs recorded in the run database (`GET /api/runs/:id/sites` for runs not driven here). */
  database?: SiteHistory;
  /** The current run's signed terms at `GET /api/v1/terms` (terms-route.ts). */
  terms?: TermsRouteOptions;
  /** Global model versions at `GET /api/v1/models/:version/weights` (model-weights-route.ts). */
  modelWeights?: ModelWeightsRouteOptions;
  /** The site token registry: a site may read its run's audit log with its token. */
  siteTokens?: AuditAccessOptions['siteTokens'];
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
  const t = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
  // Node's own header and request deadlines (slowloris), checked every checkIntervalMs; fastify sets the others.
  const serverTimeouts = { headersTimeout: t.headersMs, requestTimeout: t.requestMs, connectionsCheckingInterval: t.checkIntervalMs };
  const app = Fastify({
    ...logging,
    bodyLimit: DEFAULT_BODY_LIMIT,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionTimeout: t.idleMs,
    // On close every connection goes, idle or not (a half-sent request must not keep the process alive).
    forceCloseConnections: true,
    // Route schemas compile on first use, not before listen (fast start: lazy-schema-compilers.ts).
    schemaController: { compilersFactory: lazySchemaCompilers() },
    clientErrorHandler,
    // A URL the router cannot decode (`/site/%E0%A4%A`): the same typed body as every other error.
    frameworkErrors: (err, _request, reply) => {
      const { status, code, message } = describeHttpError(err);
      void (reply as unknown as FastifyReply).status(status).send({ error: { code, message } });
    },
    ...(options.https ? { https: { ...options.https, ...serverTimeouts } } : { http: serverTimeouts }),
  }) as unknown as FastifyInstance;
  // Websocket only: every fedtune site connects that way (socketio-client.ts), and HTTP long-polling would be a
  // second way in, with its own request bodies, to bound and test.
  // A connection that never asks for the namespace is closed at the hello timeout too (socket.io's default: 45 s).
  const limits = ConnectionLimits.parse(options.connectionLimits ?? {});
  const connectTimeout = limits.helloTimeoutMs;
  // What a connection's packets may be is bounded before any of it is parsed (bounded-socketio-parser.ts).
  const parser = boundedSocketIoParser({ ...limits, binaryBytesBurst: limits.binaryBurstMessages * options.maxMessageBytes });
  // And how fast one address may open connections, checked on the upgrade request before any of a connection's work;
  // then, on a coordinator open to this machine only, no other web page's websocket (web-page-join-check.ts).
  const allowRequest = allowRequestOf(connectionRateLimit(limits), webPageJoinCheck(() => options.admin !== undefined && !options.admin.required()));
  const io = new Server(app.server, { maxHttpBufferSize: options.maxMessageBytes, transports: ['websocket'], connectTimeout, serveClient: false, cors: { origin: true }, parser, allowRequest });
  const transport = socketIoServerTransport(io, options.connectionLimits);
  const store = new RunStore(options.runsDir);
  const startedAt = Date.now();

  // The dashboard's event streams end first: socket.io's close below waits for every HTTP connection.
  const eventStreams = new EventStreams();
  app.addHook('preClose', async () => eventStreams.endAll());
  // preClose: socket.io's upgraded connections must go before the HTTP server can finish closing. socket.io's
  // close waits for the HTTP server's, which waits for every HTTP connection: those go first, idle or not (a
  // request with unfinished headers would otherwise hold the process until its timeout).
  app.addHook('preClose', async () => {
    app.server.closeAllConnections();
    await transport.close();
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    const { status, code, message } = describeHttpError(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    void reply.status(status).send({ error: { code, message } });
  });
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: clipText(`no route ${request.method} ${request.url}`) } });
  };
  registerJsonBodyParser(app);
  registerSecurityHeaders(app);

  const apiLimit = options.apiRateLimit ?? DEFAULT_API_RATE_LIMIT;
  if (apiLimit) registerApiRateLimit(app, apiLimit, notFound);
  else app.setNotFoundHandler(notFound);

  // The control plane: after the rate limit (onRequest), before the body is read (preParsing). Never for
  // another web page in the operator's browser (cross-site-request.ts), whatever token it sends.
  const admin = options.admin;
  if (admin) {
    app.addHook('onRoute', (route) => {
      if (route.config?.admin !== true) return;
      const check = async (request: { headers: BrowserHeaders & { authorization?: string } }) => {
        const page = crossSiteRequest(request.headers);
        if (page) throw new FedtuneError('unauthorized', `requests from another web page (${page}) may not use the control plane: open the dashboard from this coordinator, or use curl`);
        const decision = admin.check(request.headers.authorization, request.headers.host);
        if (!decision.ok) throw new FedtuneError('unauthorized', decision.message);
      };
      const existing = route.preParsing;
      route.preParsing = [...(Array.isArray(existing) ? existing : existing ? [existing] : []), check] as never;
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
      const live = options.liveSummary ? options.liveSummary() : options.live?.();
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
    }, async () => ({ runs: store.summaries() }));

    api.get<{ Params: { id: string } }>('/api/runs/:id', {
      config: { admin: true },
      schema: {
        summary: "a run's report (docs/report.md)",
        tags: ['runs'],
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' } }, required: ['id'] },
        response: { 200: { type: 'object', description: 'the run report (report.json)', additionalProperties: true }, ...errorResponses(404) },
      },
    }, async (request) => store.read(request.params.id));

    api.get('/api/live', {
      config: { admin: true },
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

    registerReportHtmlRoute(api, store);
    registerOperationsRoutes(api, { store, control: options.control, database: options.database, auditAccess: { admin: options.admin, siteTokens: options.siteTokens } });
    if (options.terms) registerTermsRoute(api, options.terms);
    if (options.modelWeights) registerModelWeightsRoute(api, options.modelWeights);
  });

  // The dashboard at `/` with its event stream, and the browser site at `/site/`.
  void app.register(dashboardPlugin, { events: options.events, live: options.live, siteDir: options.siteDir, streams: eventStreams });

  return { app, io, transport };
}
