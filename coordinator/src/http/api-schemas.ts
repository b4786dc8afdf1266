/**
 * JSON schemas of the HTTP API. Fastify validates requests and serializes responses with them (a
 * response schema also stops fields leaking), and `/docs` is generated from them.
 */

/** The typed error body every route answers with on failure: a stable code and a message. */
export const ErrorBody = {
  type: 'object',
  description: 'a typed error (docs/operations.md lists the codes)',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string', description: 'stable error code, e.g. not_found, config, rate_limited, run_finished, run_exists, run_active, run_started' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** Error responses shared by every `/api` route: 400 (invalid request), 429 (rate limit), 500. */
export function errorResponses(...extra: Array<404 | 409>): Record<number, typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = { 400: ErrorBody, 429: ErrorBody, 500: ErrorBody };
  for (const status of extra) out[status] = ErrorBody;
  return out;
}

/** `:id` without a pattern: a malformed id is answered like an unknown run (typed 404), never 400. */
export const RunIdParam = { type: 'string', description: 'run id ([A-Za-z0-9._-]+)' } as const;

export const RunIdParams = { type: 'object', properties: { id: RunIdParam }, required: ['id'] } as const;

export const ModelFileParam = { type: 'string', description: 'model.json or weights.bin (anything else: 404)' } as const;

/** A model file: `model.json` (TensorFlow.js layers model) or `weights.bin` (its weights). */
export const ModelFileResponse = {
  description: 'the file: model.json (application/json) or weights.bin (application/octet-stream)',
  content: {
    'application/json': { schema: { type: 'object', additionalProperties: true } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
  },
} as const;

const Metrics = {
  type: 'object',
  properties: { accuracy: { type: 'number' }, loss: { type: 'number' }, probes: { type: 'object', additionalProperties: { type: 'number' } } },
  required: ['accuracy', 'loss'],
} as const;

const nullableNumber = { type: 'number', nullable: true } as const;

/** One completed round, summarised from report.json. */
export const RoundSummary = {
  type: 'object',
  properties: {
    round: { type: 'integer' },
    durationMs: { type: 'number' },
    attempts: { type: 'integer' },
    selected: { type: 'integer', description: 'sites selected' },
    accepted: { type: 'integer', description: 'updates accepted' },
    rejected: { type: 'integer', description: 'updates refused by validation' },
    failed: { type: 'integer', description: 'selected sites that failed, left or missed the deadline' },
    cooling: { type: 'integer', description: 'joined sites the round did not sample: they gave no answer in an earlier round (docs/operations.md#sites-that-do-not-answer)' },
    busy: { type: 'integer', description: 'joined sites the round did not sample: still training a fit the quorum wait (stragglers.waitAfterQuorumMs) cut off (docs/operations.md#sites-that-do-not-answer)' },
    rejectedByCode: { type: 'object', additionalProperties: { type: 'integer' } },
    bytesDown: { type: 'number' },
    bytesUp: { type: 'number' },
    global: Metrics,
    federated: {
      type: 'object',
      properties: {
        accuracy: { type: 'number' },
        mean: { type: 'number' },
        p10: { type: 'number' },
        worstSite: { type: 'object', properties: { siteId: { type: 'string' }, accuracy: { type: 'number' } }, required: ['siteId', 'accuracy'] },
      },
      required: ['accuracy'],
    },
    privacy: {
      type: 'object',
      description: 'client-level DP spent so far (DP runs only)',
      properties: {
        epsilon: { type: 'number' },
        delta: { type: 'number' },
        noiseMultiplier: { type: 'number' },
        clip: { type: 'number' },
        samplingRate: { type: 'number' },
        clippedShare: { type: 'number', nullable: true },
        steps: { type: 'integer' },
      },
      required: ['epsilon', 'delta'],
    },
    robustness: {
      type: 'object',
      description: 'robustness of the new global model (rounds where it was scheduled)',
      properties: {
        cleanAccuracy: { type: 'number' },
        corruptionMean: nullableNumber,
        worstCorruption: { type: 'object', nullable: true, properties: { name: { type: 'string' }, accuracy: { type: 'number' } } },
        fgsm: { type: 'array', items: { type: 'object', properties: { eps: { type: 'number' }, accuracy: { type: 'number' } } } },
        pgd: { type: 'array', items: { type: 'object', properties: { eps: { type: 'number' }, steps: { type: 'integer' }, accuracy: { type: 'number' } } } },
        warnings: { type: 'integer', description: 'self-check warnings (see the report)' },
      },
    },
    modelDir: { type: 'string' },
  },
  required: ['round', 'durationMs', 'attempts', 'selected', 'accepted', 'rejected', 'failed', 'rejectedByCode', 'global', 'modelDir'],
} as const;

/** Sites per page of `GET /api/runs/:id/sites`, by default and at most. */
export const SITES_PAGE_LIMIT = 1000;

export const SitesPageQuery = {
  type: 'object',
  properties: {
    // Site ids are at most 128 of [A-Za-z0-9._-]; '' sorts before every id.
    after: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._-]*$', default: '' },
    limit: { type: 'integer', minimum: 1, maximum: SITES_PAGE_LIMIT, default: SITES_PAGE_LIMIT },
  },
  additionalProperties: false,
} as const;

export const SiteView = {
  type: 'object',
  properties: {
    siteId: { type: 'string' },
    status: { type: 'string', enum: ['connected', 'disconnected'] },
    activity: { type: 'string', enum: ['idle', 'training', 'evaluating'], description: 'last heartbeat status (live sites only)' },
    missedRounds: { type: 'integer', description: 'rounds in a row the site was asked and gave no answer (live sites, when > 0): it sits out a cooldown (docs/operations.md#sites-that-do-not-answer)' },
    backend: { type: 'string' },
    runtime: { type: 'string' },
    numExamples: { type: 'integer' },
    joinedAt: { type: 'string' },
    lastSeen: { type: 'string' },
    leftReason: { type: 'string' },
  },
  required: ['siteId', 'status', 'lastSeen'],
} as const;

export const LiveStatusSchema = {
  type: 'object',
  properties: {
    runId: { type: 'string' },
    phase: { type: 'string' },
    round: { type: 'integer' },
    sites: {
      type: 'array',
      items: { type: 'object', properties: { siteId: { type: 'string' }, backend: { type: 'string' }, runtime: { type: 'string' }, lastSeen: { type: 'string' } }, required: ['siteId'] },
    },
  },
  required: ['phase', 'sites'],
} as const;

/** `POST /api/runs`: a run configuration; the RunConfig zod schema validates it. */
export const CreateRunBody = {
  type: 'object',
  description: 'a run configuration (the fields of a --config file); runId optional',
  properties: { runId: { type: 'string', description: 'run id ([A-Za-z0-9._-]+); default: generated' } },
  additionalProperties: true,
} as const;

export const CreatedRun = {
  type: 'object',
  properties: { runId: { type: 'string' }, status: { type: 'string', enum: ['created'] } },
  required: ['runId', 'status'],
} as const;
