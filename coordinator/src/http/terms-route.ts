import type { FastifyInstance } from 'fastify';
import { FedtuneError, type SignedRunTerms } from '@fedtune/shared';
import { bearerToken } from '../access/bearer-token.ts';
import { ErrorBody, errorResponses } from './api-schemas.ts';

export interface TermsRouteOptions {
  /** The signed terms of the run this coordinator drives, if any. */
  terms: () => SignedRunTerms | undefined;
  /**
   * Whether a caller may read them: the same rule as a site's hello (with site tokens on, a valid token for
   * the site id it names). Absent: anyone.
   */
  mayRead?: (siteId: string | undefined, token: string | undefined) => boolean;
}

/** Header naming the site that asks (with `Authorization: Bearer <site token>` when site tokens are on). */
export const SITE_ID_HEADER = 'x-fedtune-site';

/**
 * GET /api/v1/terms: the signed terms of the current run (docs/site-policy.md#run-terms), for a site to
 * review before joining (`fedtune client --show-terms`).
 */
export function registerTermsRoute(api: FastifyInstance, options: TermsRouteOptions): void {
  api.get('/api/v1/terms', {
    schema: {
      summary: "the current run's signed terms (what a site is asked to consent to)",
      tags: ['runs'],
      headers: { type: 'object', properties: { [SITE_ID_HEADER]: { type: 'string', maxLength: 128 }, authorization: { type: 'string', maxLength: 600 } } },
      response: {
        200: {
          description: 'SignedRunTerms: terms, hash, signature',
          type: 'object',
          additionalProperties: true,
        },
        401: ErrorBody,
        ...errorResponses(404),
      },
    },
  }, async (request) => {
    const siteId = request.headers[SITE_ID_HEADER] as string | undefined;
    const token = bearerToken(request.headers.authorization);
    if (options.mayRead && !options.mayRead(siteId, token)) {
      throw new FedtuneError('unauthorized', `site tokens are required here: send ${SITE_ID_HEADER}: <site id> and Authorization: Bearer <site token> (fedtune client --show-terms --site ID --token TOKEN)`);
    }
    const terms = options.terms();
    if (!terms) throw new FedtuneError('not_found', 'this coordinator is not driving a run');
    return terms;
  });
}
