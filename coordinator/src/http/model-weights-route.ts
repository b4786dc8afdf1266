import type { FastifyInstance } from 'fastify';
import { FedtuneError } from '@fedtune/shared';
import { bearerToken } from '../access/bearer-token.ts';
import { ErrorBody, errorResponses } from './api-schemas.ts';
import { SITE_ID_HEADER } from './terms-route.ts';
import type { ServedModelVersion } from '../engine/model-versions.ts';

export interface ModelWeightsRouteOptions {
  /** The served version, if this coordinator holds it (ModelVersions.get; on a cluster node, ClusterModelVersions.get). */
  version: (version: number) => ServedModelVersion | undefined | Promise<ServedModelVersion | undefined>;
  /** Whether a caller may read: the same rule as a site's hello (site tokens when on). Absent: anyone. */
  mayRead?: (siteId: string | undefined, token: string | undefined) => boolean;
}

/** A fixed version never changes: caches (a CDN, a reverse proxy, the browser) may keep it for a year. */
export const MODEL_WEIGHTS_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * The same for a request that presented a site token: only the site's own cache may keep it. A shared cache (a CDN
 * in front of a coordinator that requires tokens) would otherwise serve the model to anyone who asks it.
 */
export const MODEL_WEIGHTS_PRIVATE_CACHE_CONTROL = 'private, max-age=31536000, immutable';

/** Whether an If-None-Match header names this strong ETag (a list, weak forms and `*` included, RFC 9110 §13.1.2). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/**
 * GET /api/v1/models/:version/weights: a global model version's bytes (weights codec) for sites under
 * `modelDelivery: 'http'` (docs/operations.md#model-delivery-over-http), with a strong ETag (the sha-256 of
 * the bytes, which the site checks against its instruction), immutable caching, 304 on If-None-Match and 404
 * for a version this coordinator does not hold. Auth as GET /api/v1/terms: with site tokens on, the site id
 * header and its bearer token.
 */
export function registerModelWeightsRoute(api: FastifyInstance, options: ModelWeightsRouteOptions): void {
  api.get<{ Params: { version: number } }>('/api/v1/models/:version/weights', {
    schema: {
      summary: 'the bytes of a global model version (weights codec), with a strong ETag = their sha-256',
      tags: ['runs'],
      params: { type: 'object', properties: { version: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 } } },
      headers: { type: 'object', properties: { [SITE_ID_HEADER]: { type: 'string', maxLength: 128 }, authorization: { type: 'string', maxLength: 600 }, 'if-none-match': { type: 'string', maxLength: 2048 } } },
      response: {
        200: {
          description: 'the encoded weights',
          content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
        },
        304: {
          description: "not modified (If-None-Match names this version's ETag)",
          type: 'null',
        },
        401: ErrorBody,
        ...errorResponses(404),
      },
    },
  }, async (request, reply) => {
    const siteId = request.headers[SITE_ID_HEADER] as string | undefined;
    const token = bearerToken(request.headers.authorization);
    if (options.mayRead && !options.mayRead(siteId, token)) {
      throw new FedtuneError('unauthorized', `site tokens are required here: send ${SITE_ID_HEADER}: <site id> and Authorization: Bearer <site token>`);
    }
    const served = await options.version(request.params.version);
    if (!served) throw new FedtuneError('not_found', `this coordinator does not hold model version ${request.params.version}`);
    const etag = `"${served.sha256}"`;
    void reply.header('etag', etag).header('cache-control', token === undefined ? MODEL_WEIGHTS_CACHE_CONTROL : MODEL_WEIGHTS_PRIVATE_CACHE_CONTROL);
    if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.status(304).send();
    // A Buffer is sent as application/octet-stream.
    return reply.send(Buffer.from(served.bytes.buffer, served.bytes.byteOffset, served.bytes.byteLength));
  });
}
