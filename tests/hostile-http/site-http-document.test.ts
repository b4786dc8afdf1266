import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import { ErrorBody } from '../../coordinator/src/http/api-schemas.ts';
import { ModelVersions } from '../../coordinator/src/engine/model-versions.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * What the OpenAPI document (/docs/json) says of the two routes a site reads over HTTP: that they are listed
 * at all (only tagged routes are), under `runs`, and which statuses each answers with what content. The prose
 * (summaries, descriptions) is not pinned: only a test copying it could tell (the mutation module `site-http`
 * leaves those lines out).
 */

interface DocResponse {
  description?: string;
  content?: Record<string, { schema: unknown }>;
}
interface DocOperation {
  tags?: string[];
  responses: Record<string, DocResponse>;
}

// A fresh app per test: the routes' schemas are built with the app, inside the test that reads them (a mutation
// run activates a mutant per test, not while a file loads).
const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
async function documentedGet(path: string): Promise<DocOperation> {
  const { app } = buildApp({
    runsDir: tempDir('fedtune-site-http-doc-'),
    maxMessageBytes: 1 << 20,
    apiRateLimit: false,
    terms: { terms: () => undefined },
    modelWeights: { version: (v) => new ModelVersions().get(v) },
  });
  apps.push(app);
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  const operation = (res.json() as { paths: Record<string, { get?: DocOperation }> }).paths[path]?.get;
  expect(operation, `${path} is listed`).toBeDefined();
  return operation as DocOperation;
}

/** A typed error's entry: JSON with the shared error body (its description is ErrorBody's). */
const typedError = { description: ErrorBody.description, content: { 'application/json': { schema: ErrorBody } } };

describe('the OpenAPI document of the site routes', () => {
  it('GET /api/v1/terms: under runs; 200 a JSON object passed whole, and a typed error for 400, 401, 404, 429 and 500', async () => {
    const terms = await documentedGet('/api/v1/terms');
    expect(terms.tags).toEqual(['runs']);
    expect(Object.keys(terms.responses)).toEqual(['200', '400', '401', '404', '429', '500']);
    expect(Object.keys(terms.responses[200]?.content ?? {})).toEqual(['application/json']);
    expect(terms.responses[200]?.content?.['application/json']?.schema).toMatchObject({ type: 'object', additionalProperties: true });
    for (const status of ['400', '401', '404', '429', '500']) expect(terms.responses[status], status).toEqual(typedError);
  });

  it('GET /api/v1/models/{version}/weights: under runs; 200 binary octets, 304 without content, and a typed error for 400, 401, 404, 429 and 500', async () => {
    const weights = await documentedGet('/api/v1/models/{version}/weights');
    expect(weights.tags).toEqual(['runs']);
    expect(Object.keys(weights.responses)).toEqual(['200', '304', '400', '401', '404', '429', '500']);
    expect(weights.responses[200]?.content).toEqual({ 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } });
    expect(Object.keys(weights.responses[304] ?? {})).toEqual(['description']);
    for (const status of ['400', '401', '404', '429', '500']) expect(weights.responses[status], status).toEqual(typedError);
  });
});
