import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorBody } from './api-schemas.ts';

/** The name of the admin token's security scheme in the document. */
export const ADMIN_SECURITY_SCHEME = 'adminToken';

interface RouteForDoc {
  method: string | string[];
  config?: { admin?: boolean };
}

/**
 * What the document says of a control-plane route (`config: { admin: true }`): it needs the admin token
 * (`Authorization: Bearer TOKEN`), and can answer 401 (no or a wrong token), 429 (rate limit) and, when it
 * takes a body, 413 (too large) and 415 (not JSON). Other routes are left as they are.
 */
export function documentAdminRoute(schema: Record<string, unknown> | undefined, route: RouteForDoc): Record<string, unknown> | undefined {
  if (!schema || route.config?.admin !== true) return schema;
  const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toUpperCase());
  const takesBody = methods.some((m) => m !== 'GET' && m !== 'HEAD');
  const response = { ...(schema.response as Record<string, unknown> | undefined) };
  response[401] = { ...ErrorBody, description: 'no admin token, or a wrong one (code unauthorized)' };
  response[429] = { ...ErrorBody, description: 'too many requests from this address (code rate_limited)' };
  if (takesBody) {
    response[413] = { ...ErrorBody, description: 'the body is larger than the limit (code payload_too_large)' };
    response[415] = { ...ErrorBody, description: 'the body is not application/json (code unsupported_media_type)' };
  }
  return { ...schema, security: [{ [ADMIN_SECURITY_SCHEME]: [] }], response };
}

/**
 * OpenAPI 3 generated from the routes' schemas: the document at `/docs/json` (and `/docs/yaml`), the
 * Swagger UI at `/docs`. Register before the routes. Only tagged routes are listed (the API and
 * `/metrics`; the dashboard and the browser site are not part of the API). Registered on `app` itself,
 * not inside a plugin of its own: @fastify/swagger sees only routes in its context and below.
 */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'fedtune coordinator',
        description: 'Runs, rounds, models, sites and metrics of a fedtune coordinator (docs/operations.md).',
        version: '0.1.0',
      },
      tags: [
        { name: 'runs', description: 'runs on disk and the run this coordinator drives' },
        { name: 'operations', description: 'health, live state and metrics' },
      ],
      components: {
        securitySchemes: {
          [ADMIN_SECURITY_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description:
              'The control plane (routes marked with it) needs `Authorization: Bearer TOKEN` when the coordinator is not bound to loopback or requires site tokens; the token is printed by `fedtune admin-token`.',
          },
        },
      },
    },
    hideUntagged: true,
    transform: ({ schema, url, route }) => ({ schema: documentAdminRoute(schema as Record<string, unknown> | undefined, route as RouteForDoc) as never, url }),
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });
}
