import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { FedtuneError } from '@fedtune/shared';
import type { RunStore } from '../run/run-store.ts';
import { errorResponses, ModelFileParam, ModelFileResponse, RoundSummary, RunIdParam, RunIdParams, SiteView } from './api-schemas.ts';
import { apiErrorStatus } from './error-status.ts';
import { mergeSites, summarizeRound, type RunControl, type SiteHistory } from './run-control.ts';

export interface OperationsRoutesOptions {
  store: RunStore;
  control?: RunControl;
  database?: SiteHistory;
}

/**
 * A run's rounds, the global model of any round, its sites, and stopping the run this coordinator drives.
 * Creating and starting runs over HTTP is not offered (docs/operations.md).
 */
export function registerOperationsRoutes(app: FastifyInstance, { store, control, database }: OperationsRoutesOptions): void {
  app.get<{ Params: { id: string } }>('/api/runs/:id/rounds', {
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

  app.get<{ Params: { id: string; round: number; file: string } }>('/api/runs/:id/rounds/:round/model/:file', {
    schema: {
      summary: 'a file of the global model saved after a round',
      tags: ['runs'],
      params: { type: 'object', properties: { id: RunIdParam, round: { type: 'integer', minimum: 1 }, file: ModelFileParam }, required: ['id', 'round', 'file'] },
      response: { 200: ModelFileResponse, ...errorResponses(404) },
    },
  }, async (request, reply) => {
    const { id, round, file } = request.params;
    const path = store.roundModelFile(id, round, file);
    void reply.type(file === 'model.json' ? 'application/json' : 'application/octet-stream');
    return reply.send(createReadStream(path));
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id/sites', {
    schema: {
      summary: "a run's sites and their status",
      description: 'Live from the round engine when this coordinator drives the run, else from the run database.',
      tags: ['runs'],
      params: RunIdParams,
      response: {
        200: {
          type: 'object',
          properties: { runId: { type: 'string' }, source: { type: 'string', enum: ['live', 'database', 'none'] }, sites: { type: 'array', items: SiteView } },
          required: ['runId', 'source', 'sites'],
        },
        ...errorResponses(404),
      },
    },
  }, async (request) => {
    const { id } = request.params;
    const live = control?.runId === id ? control.sites() : undefined;
    if (!live) store.read(id); // unknown run: typed 404
    const recorded = database?.listSites(id) ?? [];
    const source = live ? 'live' : database ? 'database' : 'none';
    return { runId: id, source, sites: mergeSites(live, recorded) };
  });

  app.post<{ Params: { id: string } }>('/api/runs/:id/stop', {
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
