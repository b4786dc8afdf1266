import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import { ifNoneMatchHits, MODEL_WEIGHTS_CACHE_CONTROL } from '../../coordinator/src/http/model-weights-route.ts';
import { ModelVersions } from '../../coordinator/src/engine/model-versions.ts';
import { instructionModel } from '../../coordinator/src/engine/model-delivery.ts';
import { encodeWeights, ModelRef, sha256Hex } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';

const manifest = [{ name: 'w', shape: [3], dtype: 'float32' as const }];
const v0 = encodeWeights({ manifest, arrays: [new Float32Array([1, 2, 3])] });
const v1 = encodeWeights({ manifest, arrays: [new Float32Array([4, 5, 6])] });

describe('ModelVersions: the versions served over HTTP', () => {
  it('keeps the latest `keep` versions, hashed once', () => {
    const versions = new ModelVersions(2);
    expect(versions.publish(0, v0).sha256).toBe(sha256Hex(v0));
    versions.publish(1, v1);
    expect(versions.get(0)?.bytes).toBe(v0);
    versions.publish(2, v0);
    expect(versions.get(0)).toBeUndefined();
    expect(versions.get(1)?.sha256).toBe(sha256Hex(v1));
    expect(versions.get(2)?.version).toBe(2);
    // Publishing the same bytes again keeps the entry; new bytes for a version replace it.
    const again = versions.publish(2, v0);
    expect(versions.publish(2, v0)).toBe(again);
    expect(versions.publish(2, v1).sha256).toBe(sha256Hex(v1));
  });
});

describe('instructionModel: what a fit/evaluate carries per delivery', () => {
  it.each([
    ['socket, site lacks the version', 'socket', v0, { weights: v0 }, v0.byteLength],
    ['socket, site holds the version', 'socket', undefined, {}, 0],
    ['http, site holds the version', 'http', undefined, {}, 0],
  ] as const)('%s', (_, delivery, bytes, fields, socketBytes) => {
    expect(instructionModel(delivery, new ModelVersions(), 3, bytes)).toEqual({ fields, socketBytes });
  });

  it('http: a reference to the published version (path, sha-256, size), counted by its JSON size', () => {
    const versions = new ModelVersions();
    const { fields, socketBytes } = instructionModel('http', versions, 3, v1);
    expect(fields).toEqual({ modelRef: { path: '/api/v1/models/3/weights', sha256: sha256Hex(v1), bytes: v1.byteLength } });
    expect(ModelRef.parse(fields.modelRef)).toEqual(fields.modelRef);
    expect(socketBytes).toBe(JSON.stringify(fields.modelRef).length);
    expect(versions.get(3)?.bytes).toBe(v1);
  });

  it('the wire schema takes only the fixed path shape', () => {
    const ok = { path: '/api/v1/models/0/weights', sha256: 'a'.repeat(64), bytes: 100 };
    expect(ModelRef.safeParse(ok).success).toBe(true);
    for (const path of ['http://evil.example/api/v1/models/0/weights', '/api/v1/models/01/weights', '/api/v1/models/-1/weights', '//evil/api/v1/models/1/weights', '/api/v1/models/1/weights?x=1', '/api/v1/models/12345678901/weights']) {
      expect(ModelRef.safeParse({ ...ok, path }).success, path).toBe(false);
    }
    expect(ModelRef.safeParse({ ...ok, sha256: 'A'.repeat(64) }).success).toBe(false);
    expect(ModelRef.safeParse({ ...ok, bytes: 7 }).success).toBe(false);
  });
});

describe('If-None-Match', () => {
  it.each([
    [undefined, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['*', true],
    ['"x", "abc"', true],
    ['"x","y"', false],
    ['abc', false],
    ['', false],
    // Whitespace around a tag or list item is trimmed; a tag is matched whole.
    [' "abc" ', true],
    ['"x" ,W/"abc"', true],
    [' * ', true],
    ['W/*', false],
    ['"abc"x', false],
    ['W/"abc', false],
    ['x"abc"', false],
  ])('%s → %s', (header, hit) => {
    expect(ifNoneMatchHits(header, '"abc"')).toBe(hit);
  });
});

describe('GET /api/v1/models/:version/weights', () => {
  const versions = new ModelVersions();
  versions.publish(0, v0);
  versions.publish(1, v1);
  const tokens: Record<string, string> = { 'site-1': 'secret-1' };
  let requireTokens = false;
  const { app } = buildApp({
    runsDir: tempDir(),
    maxMessageBytes: 1 << 20,
    apiRateLimit: false,
    modelWeights: { version: (v) => versions.get(v), mayRead: (siteId, token) => !requireTokens || (siteId !== undefined && tokens[siteId] === token) },
  });
  afterAll(() => app.close());
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });

  it('serves the bytes with a strong ETag (their sha-256) and immutable caching', async () => {
    for (const [version, bytes] of [[0, v0], [1, v1]] as const) {
      const res = await get(`/api/v1/models/${version}/weights`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers.etag).toBe(`"${sha256Hex(bytes)}"`);
      expect(res.headers['cache-control']).toBe(MODEL_WEIGHTS_CACHE_CONTROL);
      expect(MODEL_WEIGHTS_CACHE_CONTROL).toBe('public, max-age=31536000, immutable');
      expect(Number(res.headers['content-length'])).toBe(bytes.byteLength);
      expect(new Uint8Array(res.rawPayload)).toEqual(bytes);
    }
  });

  it('304 with no body when If-None-Match names the ETag; 200 for another one', async () => {
    const etag = `"${sha256Hex(v1)}"`;
    const hit = await get('/api/v1/models/1/weights', { 'if-none-match': etag });
    expect(hit.statusCode).toBe(304);
    expect(hit.rawPayload.length).toBe(0);
    expect(hit.headers.etag).toBe(etag);
    const miss = await get('/api/v1/models/1/weights', { 'if-none-match': `"${sha256Hex(v0)}"` });
    expect(miss.statusCode).toBe(200);
    expect(miss.rawPayload.length).toBe(v1.byteLength);
  });

  it.each([
    ['/api/v1/models/7/weights', 404, 'not_found'],
    ['/api/v1/models/abc/weights', 400, undefined],
    ['/api/v1/models/-1/weights', 400, undefined],
    ['/api/v1/models/99999999999/weights', 400, undefined],
  ])('%s → %i', async (url, status, code) => {
    const res = await get(url);
    expect(res.statusCode).toBe(status);
    if (code) expect(res.json().error.code).toBe(code);
    expect(res.headers.etag).toBeUndefined();
  });

  it('with site tokens on: 401 without the site header and its token, 200 with them', async () => {
    requireTokens = true;
    try {
      expect((await get('/api/v1/models/0/weights')).statusCode).toBe(401);
      expect((await get('/api/v1/models/0/weights', { 'x-fedtune-site': 'site-1', authorization: 'Bearer wrong' })).statusCode).toBe(401);
      expect((await get('/api/v1/models/0/weights', { authorization: 'Bearer secret-1' })).statusCode).toBe(401);
      const ok = await get('/api/v1/models/0/weights', { 'x-fedtune-site': 'site-1', authorization: 'Bearer secret-1' });
      expect(ok.statusCode).toBe(200);
      expect((await get('/api/v1/models/7/weights', { 'x-fedtune-site': 'site-1', authorization: 'Bearer wrong' })).statusCode).toBe(401);
    } finally {
      requireTokens = false;
    }
  });
});
