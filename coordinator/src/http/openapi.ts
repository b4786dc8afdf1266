import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

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
    },
    hideUntagged: true,
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });
}
