import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FedtuneError } from '@fedtune/shared';
import type { RunStore } from '../run/run-store.ts';
import { CreatedRun, CreateRunBody, errorResponses, ModelFileParam, ModelFileResponse, RoundSummary, RunIdParam, RunIdParams, SITES_PAGE_LIMIT, SitesPageQuery, SiteView } from './api-schemas.ts';
import { apiErrorStatus } from './error-status.ts';
import { AUDIT_FILE } from '../audit/audit-log.ts';
import { checkRunReader, SITE_HEADER, type AuditAccessOptions } from '../access/audit-access.ts';
import { AuditJoins } from '../access/audit-joins.ts';
import { siteAuditCopy } from '../audit/site-audit-copy.ts';
import { summarizeRound, type RunControl, type SiteHistory } from './run-control.ts';
import { pageOfSites } from './site-pages.ts';

/**
 * The site a request names itself as: x-fedtune-site, a header Node does not know, which it gives as one string
 * (a repeated one joined with ", ", which is no site name) or not at all.
 */
export const siteHeader = (request: FastifyRequest): string | undefined => request.headers[SITE_HEADER] as string | undefined;

export interface OperationsRoutesOptions {
  store: RunStore;
  control?: RunControl;
  database?: SiteHistory;
  /** Who may download a run's audit log (audit-access.ts). */
  auditAccess?: AuditAccessOptions;
}

/** Codes of the run lifecycle routes, with their status (they never cross the engine or the wire). */
export const runLifecycleErrorStatus = {
  /** `POST /api/runs` with the id of a run that exists. */
  run_exists: 409,
  /** `POST /api/runs/:id/start` while another run is active. */
  run_active: 409,
  /** `POST /api/runs/:id/start` for a run that was started before (resume it with `fedtune coordinator --resume`). */
  run_started: 409,
  /** Creating or starting runs on a coordinator that drives one fixed run (not `--serve-only`). */
  runs_fixed: 409,
} as const;

const fail = (code: keyof typeof runLifecycleErrorStatus, message: string) => ({ status: runLifecycleErrorStatus[code], body: { error: { code, message } } });

/**
 * A run's rounds, the global model of any round, its sites, stopping the run this coordinator drives, and
 * (on a coordinator serving with no fixed run) creating and starting runs.
 */
export function registerOperationsRoutes(app: FastifyInstance, { store, control, database, auditAccess }: OperationsRoutesOptions): void {
  // `/api/v1/…` as docs/audit.md names it; `/api/runs/…` like the run's other routes. One index of who joined, for both.
  const access: AuditAccessOptions = { ...auditAccess, joins: auditAccess?.joins ?? new AuditJoins() };
  /** Who reads a run's audit log or global models: the admin, or a site of that run with its token (audit-access.ts). */
  const runReader = (request: FastifyRequest, id: string, what: string) =>
    checkRunReader(access, { authorization: request.headers.authorization, host: request.headers.host, site: siteHeader(request) }, join(store.runDir(id), AUDIT_FILE), what);
  const unauthorized = { 401: { ...errorResponses()[400], description: 'neither the admin token nor a site token of this run (code unauthorized)' } };
  for (const url of ['/api/v1/runs/:id/audit', '/api/runs/:id/audit']) {
    app.get<{ Params: { id: string } }>(url, {
      schema: {
        summary: "a run's hash-chained audit log (audit.jsonl, JSON lines; docs/audit.md)",
        description:
          `Needs the admin token where the control plane does, or the site token of a site that joined the run (Authorization: Bearer TOKEN and ${SITE_HEADER}: NAME), ` +
          "which reads the site's copy: other sites' entries redacted (their data withheld, their hashes kept). " +
          'Check it with `fedtune audit verify FILE`. 401 unauthorized; 404 for an unknown run or a run with no audit log.',
        tags: ['runs'],
        params: RunIdParams,
        // The admin token's scheme (a site of the run may send its site token instead, as the description says).
        security: [{ adminToken: [] }],
        response: {
          200: { description: 'the audit log, one entry per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
          ...unauthorized,
          ...errorResponses(404),
        },
      },
    }, async (request, reply) => {
      const path = join(store.runDir(request.params.id), AUDIT_FILE);
      const reader = runReader(request, request.params.id, "a run's audit log");
      if (!existsSync(path)) throw new FedtuneError('not_found', `run ${request.params.id} has no audit log`);
      void reply.type('application/x-ndjson');
      return reply.send(reader.kind === 'admin' ? createReadStream(path) : siteAuditCopy(path, reader.siteId));
    });
  }

  app.get<{ Params: { id: string } }>('/api/runs/:id/rounds', {
    config: { admin: true },
    schema: {
      summary: "a run's completed rounds",
      tags: ['runs'],
      params: RunIdParams,
      response: {
        200: { type: 'object', properties: { runId: { type: 'string' }, rounds: { type: 'array', items: RoundSummary } }, required: ['runId', 'rounds'] },
        ...errorResponses(404),
      },
    },
  }, async (request) => ({ runId: request.params.id, rounds: store.rounds(request.params.id).map(summarizeRound) }));

  const modelReaders = {
    description: `Needs the admin token where the control plane does, or the site token of a site that joined the run (Authorization: Bearer TOKEN and ${SITE_HEADER}: NAME). 401 unauthorized; 404 for an unknown run, round or file.`,
    security: [{ adminToken: [] }],
  };

  app.get<{ Params: { id: string; '*': string } }>('/api/runs/:id/model/*', {
    schema: {
      summary: "a file of the run's latest global model",
      ...modelReaders,
      tags: ['runs'],
      params: { type: 'object', properties: { id: RunIdParam, '*': ModelFileParam }, required: ['id', '*'] },
      response: { 200: ModelFileResponse, ...unauthorized, ...errorResponses(404) },
    },
  }, async (request, reply) => {
    const file = request.params['*'];
    runReader(request, request.params.id, "a run's model files");
    const path = store.latestModelFile(request.params.id, file);
    void reply.type(file === 'model.json' ? 'application/json' : 'application/octet-stream');
    return reply.send(createReadStream(path));
  });

  app.get<{ Params: { id: string; round: number; file: string } }>('/api/runs/:id/rounds/:round/model/:file', {
    schema: {
      summary: 'a file of the global model saved after a round',
      ...modelReaders,
      tags: ['runs'],
      params: { type: 'object', properties: { id: RunIdParam, round: { type: 'integer', minimum: 1 }, file: ModelFileParam } },
      response: { 200: ModelFileResponse, ...unauthorized, ...errorResponses(404) },
    },
  }, async (request, reply) => {
    const { id, round, file } = request.params;
    runReader(request, id, "a run's model files");
    const path = store.roundModelFile(id, round, file);
    void reply.type(file === 'model.json' ? 'application/json' : 'application/octet-stream');
    return reply.send(createReadStream(path));
  });

  app.get<{ Params: { id: string }; Querystring: { after: string; limit: number } }>('/api/runs/:id/sites', {
    config: { admin: true },
    schema: {
      summary: "a run's sites and their status, a page at a time in id order",
      description:
        'Live from the round engine when this coordinator drives the run, else from the run database. ' +
        `At most limit sites (default ${SITES_PAGE_LIMIT}) whose id sorts after \`after\`; \`next\` is the \`after\` of the next page, absent on the last.`,
      tags: ['runs'],
      params: RunIdParams,
      querystring: SitesPageQuery,
      response: {
        200: {
          type: 'object',
          properties: {
            runId: { type: 'string' },
            source: { type: 'string', enum: ['live', 'database', 'none'] },
            sites: { type: 'array', items: SiteView },
            next: { type: 'string' },
          },
          required: ['runId', 'source', 'sites'],
        },
        ...errorResponses(404),
      },
    },
  }, async (request) => {
    const { id } = request.params;
    const live = control?.runId === id ? control.sites() : undefined;
    if (!live) store.read(id); // unknown run: typed 404
    const source = live ? 'live' : database ? 'database' : 'none';
    return { runId: id, source, ...pageOfSites(id, live, database, request.query) };
  });

  app.post<{ Body: Record<string, unknown> }>('/api/runs', {
    config: { admin: true },
    schema: {
      summary: 'create a run (status "created"): writes runs/<id>/config.json',
      description:
        'The body is a run configuration (the fields of a --config file, validated with RunConfig; fields left out take the defaults); runId is optional (generated). ' +
        '400 (config) names the invalid fields, or a field that can have no effect in the run (refused as in a --config file); 409 run_exists if the id is taken; 409 runs_fixed on a coordinator that drives one fixed run.',
      tags: ['runs'],
      body: CreateRunBody,
      response: { 201: CreatedRun, ...errorResponses(409) },
    },
  }, async (request, reply) => {
    if (!control?.runs) {
      const f = fail('runs_fixed', 'this coordinator drives one fixed run; start it with `fedtune coordinator --serve-only` to create runs over HTTP');
      return reply.status(f.status).send(f.body);
    }
    const outcome = control.runs.create(request.body);
    if (outcome.status === 'exists') {
      const f = fail('run_exists', `run ${outcome.runId} already exists`);
      return reply.status(f.status).send(f.body);
    }
    return reply.status(201).send({ runId: outcome.runId, status: 'created' });
  });

  app.post<{ Params: { id: string } }>('/api/runs/:id/start', {
    config: { admin: true },
    schema: {
      summary: 'start a created run on this coordinator',
      description:
        'Sites already connected and those that connect later join it; the first round starts once minSites have joined. ' +
        '404 for a run never created; 409 run_active while another run is active, run_started if it was started before.',
      tags: ['runs'],
      params: RunIdParams,
      response: {
        202: { type: 'object', properties: { runId: { type: 'string' }, status: { type: 'string', enum: ['starting'] } }, required: ['runId', 'status'] },
        ...errorResponses(404, 409),
      },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    if (!control?.runs) {
      const f = fail('runs_fixed', 'this coordinator drives one fixed run; start it with `fedtune coordinator --serve-only` to start runs over HTTP');
      return reply.status(f.status).send(f.body);
    }
    const outcome = await control.runs.start(id);
    if (outcome.status === 'active') {
      const f = fail('run_active', `run ${outcome.activeRunId} is active: stop it or wait until it ends`);
      return reply.status(f.status).send(f.body);
    }
    if (outcome.status === 'already_started') {
      const f = fail('run_started', `run ${id} was already started (${outcome.runStatus}); continue it with fedtune coordinator --resume ${id}`);
      return reply.status(f.status).send(f.body);
    }
    return reply.status(202).send({ runId: id, status: 'starting' });
  });

  app.post<{ Params: { id: string } }>('/api/runs/:id/stop', {
    config: { admin: true },
    schema: {
      summary: 'stop the run this coordinator drives after the current round',
      description: 'The run ends with status "aborted" and reason "stopped". 404 for runs this coordinator does not drive; 409 (run_finished) if it already ended.',
      tags: ['runs'],
      params: RunIdParams,
      response: {
        202: { type: 'object', properties: { runId: { type: 'string' }, status: { type: 'string', enum: ['stopping'] } }, required: ['runId', 'status'] },
        ...errorResponses(404, 409),
      },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    if (!control || control.runId !== id) throw new FedtuneError('not_found', `run ${id} is not driven by this coordinator`);
    const outcome = control.stop();
    if (outcome.status === 'finished') {
      return reply.status(apiErrorStatus.run_finished).send({ error: { code: 'run_finished', message: `run ${id} already ended (${outcome.runStatus})` } });
    }
    return reply.status(202).send({ runId: id, status: 'stopping' });
  });
}
