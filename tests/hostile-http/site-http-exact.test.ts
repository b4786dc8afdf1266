import { afterEach, describe, expect, it } from 'vitest';
import { encodeWeights, joinLinkServerParam, MAX_JOIN_SERVER_CHARS, MAX_JOIN_SERVER_ORIGIN_CHARS, parseJoinLinkServer, sha256Hex, type SignedRunTerms } from '@fedtune/shared';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import { siteCsp } from '../../coordinator/src/http/site-csp.ts';
import { SITE_ID_HEADER } from '../../coordinator/src/http/terms-route.ts';
import { ModelVersions } from '../../coordinator/src/engine/model-versions.ts';
import { joinServerChoice } from '../../client-web/src/join-server-choice.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

/**
 * What a site (or anyone posing as one) reaches over HTTP before and beside the socket: the run's terms, a model
 * version's bytes, and the browser site's join link with the CSP it gets — pinned exactly on a bare fastify app
 * (the mutation module `site-http`; the end-to-end tests are tests/model-delivery, tests/browser).
 */

const manifest = [{ name: 'w', shape: [2], dtype: 'float32' as const }];
const bytes = encodeWeights({ manifest, arrays: [new Float32Array([1, 2])] });
const signed = { terms: { runId: 'r' }, hash: 'h'.repeat(64), signature: 's' } as unknown as SignedRunTerms;
const tokens: Record<string, string> = { 'site-1': 'secret-1' };
const asked: Array<[string | undefined, string | undefined]> = [];
let requireTokens = false;
let current: SignedRunTerms | undefined = signed;
const versions = new ModelVersions();
versions.publish(3, bytes);
const mayRead = (siteId: string | undefined, token: string | undefined) => {
  asked.push([siteId, token]);
  return !requireTokens || (siteId !== undefined && tokens[siteId] === token);
};

// A fresh app per test: the routes' schemas (the header bounds) are built with the app, inside the test that
// relies on them (a mutation run activates a mutant per test, not while a file loads).
const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
function siteApp(withRules = true) {
  const { app } = withRules
    ? buildApp({ runsDir: tempDir('fedtune-site-http-'), maxMessageBytes: 1 << 20, apiRateLimit: false, terms: { terms: () => current, mayRead }, modelWeights: { version: (v) => versions.get(v), mayRead } })
    : buildApp({ runsDir: tempDir('fedtune-site-http-open-'), maxMessageBytes: 1 << 20, apiRateLimit: false, terms: { terms: () => signed }, modelWeights: { version: async (v) => versions.get(v) } });
  apps.push(app);
  return app;
}
const get = (url: string, headers: Record<string, string> = {}, on = siteApp()) => on.inject({ method: 'GET', url, headers });
const asSite = { [SITE_ID_HEADER]: 'site-1', authorization: 'Bearer secret-1' };

describe('GET /api/v1/terms', () => {
  it('answers the signed terms as they are now; 404 not_found when no run is driven', async () => {
    const res = await get('/api/v1/terms');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(signed);
    current = undefined;
    try {
      const none = await get('/api/v1/terms');
      expect(none.statusCode).toBe(404);
      expect(none.json().error).toEqual({ code: 'not_found', message: 'this coordinator is not driving a run' });
    } finally {
      current = signed;
    }
  });

  it('asks mayRead with the site header and the bearer token; 401 unauthorized, naming both headers, when it says no', async () => {
    requireTokens = true;
    asked.length = 0;
    try {
      const refused = await get('/api/v1/terms', { [SITE_ID_HEADER]: 'site-1', authorization: 'Bearer wrong' });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toEqual({
        code: 'unauthorized',
        message: 'site tokens are required here: send x-fedtune-site: <site id> and Authorization: Bearer <site token> (fedtune client --show-terms --site ID --token TOKEN)',
      });
      expect((await get('/api/v1/terms')).statusCode).toBe(401);
      expect((await get('/api/v1/terms', asSite)).statusCode).toBe(200);
      expect(asked).toEqual([['site-1', 'wrong'], [undefined, undefined], ['site-1', 'secret-1']]);
    } finally {
      requireTokens = false;
    }
  });

  it('without mayRead anyone may read them', async () => {
    expect((await get('/api/v1/terms', {}, siteApp(false))).json()).toEqual(signed);
  });

  it.each([
    ['a site header over 128 characters', { [SITE_ID_HEADER]: 's'.repeat(129) }],
    ['an Authorization header over 600 characters', { authorization: `Bearer ${'t'.repeat(594)}` }],
  ])('%s is refused (400) before mayRead is asked', async (_, headers) => {
    asked.length = 0;
    expect((await get('/api/v1/terms', headers)).statusCode).toBe(400);
    expect(asked).toEqual([]);
  });

  it('headers at their limits are read (a token is at most 512 characters: a longer one is no bearer token)', async () => {
    asked.length = 0;
    expect((await get('/api/v1/terms', { [SITE_ID_HEADER]: 's'.repeat(128), authorization: `Bearer ${'t'.repeat(512)}` })).statusCode).toBe(200);
    expect((await get('/api/v1/terms', { authorization: `Bearer ${'t'.repeat(593)}` })).statusCode).toBe(200);
    expect(asked).toEqual([['s'.repeat(128), 't'.repeat(512)], [undefined, undefined]]);
  });
});

describe('GET /api/v1/models/:version/weights', () => {
  it('401 unauthorized, naming both headers, when mayRead says no — before the version is looked up', async () => {
    requireTokens = true;
    try {
      for (const url of ['/api/v1/models/3/weights', '/api/v1/models/9/weights']) {
        const res = await get(url, { [SITE_ID_HEADER]: 'site-1' });
        expect(res.statusCode).toBe(401);
        expect(res.json().error).toEqual({ code: 'unauthorized', message: 'site tokens are required here: send x-fedtune-site: <site id> and Authorization: Bearer <site token>' });
        expect(res.headers.etag).toBeUndefined();
      }
      expect((await get('/api/v1/models/3/weights', asSite)).statusCode).toBe(200);
    } finally {
      requireTokens = false;
    }
  });

  it('404 not_found names the version; a held one is its bytes, from a synchronous or an asynchronous lookup', async () => {
    const missing = await get('/api/v1/models/9/weights');
    expect(missing.json().error).toEqual({ code: 'not_found', message: 'this coordinator does not hold model version 9' });
    for (const on of [siteApp(), siteApp(false)]) {
      const res = await get('/api/v1/models/3/weights', {}, on);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers.etag).toBe(`"${sha256Hex(bytes)}"`);
      expect(new Uint8Array(res.rawPayload)).toEqual(bytes);
    }
  });

  it('caching: public without a token (anyone may read the bytes), private with one (a shared cache must not serve them to others)', async () => {
    requireTokens = true;
    try {
      const withToken = await get('/api/v1/models/3/weights', { 'x-fedtune-site': 'site-1', authorization: 'Bearer secret-1' });
      expect([withToken.statusCode, withToken.headers['cache-control']]).toEqual([200, 'private, max-age=31536000, immutable']);
      const etag = `"${sha256Hex(bytes)}"`;
      const notModified = await get('/api/v1/models/3/weights', { 'x-fedtune-site': 'site-1', authorization: 'Bearer secret-1', 'if-none-match': etag });
      expect([notModified.statusCode, notModified.headers['cache-control']]).toEqual([304, 'private, max-age=31536000, immutable']);
    } finally {
      requireTokens = false;
    }
    const open = await get('/api/v1/models/3/weights', {}, siteApp(false));
    expect([open.statusCode, open.headers['cache-control']]).toEqual([200, 'public, max-age=31536000, immutable']);
  });

  it('a 304 carries the ETag and the caching, no body and no content type', async () => {
    const etag = `"${sha256Hex(bytes)}"`;
    const res = await get('/api/v1/models/3/weights', { 'if-none-match': `W/${etag}` });
    expect(res.statusCode).toBe(304);
    expect(res.headers.etag).toBe(etag);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-type']).toBeUndefined();
    expect(res.rawPayload.length).toBe(0);
  });

  it.each([
    ['version 0 and 2^31 − 1 are in range (404: not held)', '/api/v1/models/0/weights', 404],
    ['', '/api/v1/models/2147483647/weights', 404],
    ['2^31 is not', '/api/v1/models/2147483648/weights', 400],
    ['a fraction is not', '/api/v1/models/1.5/weights', 400],
  ])('%s %s → %i', async (_, url, status) => {
    expect((await get(url)).statusCode).toBe(status);
  });

  it.each([
    ['a site header over 128 characters', 400, { [SITE_ID_HEADER]: 's'.repeat(129) }],
    ['a site header of 128', 200, { [SITE_ID_HEADER]: 's'.repeat(128) }],
    ['an Authorization header over 600 characters', 400, { authorization: `Bearer ${'t'.repeat(594)}` }],
    ['an Authorization header of 600', 200, { authorization: `Bearer ${'t'.repeat(593)}` }],
  ])('%s: %i, mayRead asked only when read', async (_, status, headers) => {
    asked.length = 0;
    expect((await get('/api/v1/models/3/weights', headers)).statusCode).toBe(status);
    expect(asked).toHaveLength(status === 200 ? 1 : 0);
  });

  it('an If-None-Match header over 2048 characters is refused (400); one at 2048 is read', async () => {
    const etag = `"${sha256Hex(bytes)}"`;
    expect((await get('/api/v1/models/3/weights', { 'if-none-match': `${' '.repeat(2049 - etag.length)}${etag}` })).statusCode).toBe(400);
    expect((await get('/api/v1/models/3/weights', { 'if-none-match': `${' '.repeat(2048 - etag.length)}${etag}` })).statusCode).toBe(304);
  });
});

describe("a browser join link's ?server=", () => {
  it.each([
    ['', undefined],
    ['?server=', undefined],
    ['?server=%20%20', undefined],
    ['?server=%20https://a.example%20', 'https://a.example'],
    ['?x=1&server=https://a.example&server=https://b.example', 'https://a.example'],
  ])('%j → %j', (search, param) => {
    expect(joinLinkServerParam(search)).toBe(param);
  });

  it.each([
    ['https://a.example', { url: 'https://a.example', origin: 'https://a.example' }],
    ['http://10.0.0.2:8080/fed/tune///?q=1#h', { url: 'http://10.0.0.2:8080/fed/tune', origin: 'http://10.0.0.2:8080' }],
    ['HTTPS://A.Example/', { url: 'https://a.example', origin: 'https://a.example' }],
    ['https://a-b.example:443', { url: 'https://a-b.example', origin: 'https://a-b.example' }],
  ])('%s is read as %j', (text, parsed) => {
    expect(parseJoinLinkServer(text)).toEqual(parsed);
  });

  const why = (text: string) => {
    const err = thrown(() => parseJoinLinkServer(text));
    expect(err).toMatchObject({ name: 'FedtuneError', code: 'config' });
    return err.message;
  };
  const tail = '; this page connects only to the coordinator that served it';

  it.each([
    ['not a url', 'is not an absolute URL'],
    ['/relative/path', 'is not an absolute URL'],
    ['ws://a.example', 'is not an http(s) URL'],
    ['file:///etc/passwd', 'is not an http(s) URL'],
    ['https://user@a.example', 'carries a user name or password'],
    ['https://:pw@a.example', 'carries a user name or password'],
    ['https://a*.example', 'has a host that is not a DNS name or an IPv4 address'],
    ['https://a_b.example', 'has a host that is not a DNS name or an IPv4 address'],
    ['https://[::1]:8080', 'has a host that is not a DNS name or an IPv4 address'],
  ])('%s: %s (one line, not quoting the text)', (text, reason) => {
    expect(why(text)).toBe(`the join link's coordinator (?server=) ${reason}${tail}`);
  });

  it('lengths: the text up to 2048 characters, the origin up to 280', () => {
    expect(MAX_JOIN_SERVER_CHARS).toBe(2048);
    expect(MAX_JOIN_SERVER_ORIGIN_CHARS).toBe(280);
    const path = (n: number) => `https://a.example/${'p'.repeat(n - 'https://a.example/'.length)}`;
    expect(parseJoinLinkServer(path(2048)).url).toHaveLength(2048);
    expect(why(path(2049))).toBe(`the join link's coordinator (?server=) is longer than 2048 characters${tail}`);
    const host = (n: number) => `https://${'h'.repeat(n - 'https://.example'.length)}.example`;
    expect(parseJoinLinkServer(host(280)).origin).toHaveLength(280);
    expect(why(host(281))).toBe(`the join link's coordinator (?server=) has an origin longer than 280 characters${tail}`);
  });
});

describe("the browser site's CSP", () => {
  const fixed = ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'", "img-src 'self' data:"];
  const rest = ["base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"];

  it.each([
    ['', ["'self'"]],
    ['?server=https://c.example:8443/p', ["'self'", 'https://c.example:8443', 'wss://c.example:8443']],
    ['?server=http://c.example', ["'self'", 'http://c.example', 'ws://c.example']],
    // A link that does not parse adds nothing.
    ['?server=https://c.example;%20script-src%20*', ["'self'"]],
    ['?server=ftp://c.example', ["'self'"]],
  ])('%j connects to %j and nothing else', (search, connect) => {
    expect(siteCsp(search)).toBe([...fixed, `connect-src ${connect.join(' ')}`, ...rest].join('; '));
  });
});

describe('joinServerChoice (the page)', () => {
  const tail = '; this page connects only to the coordinator that served it';
  it('the own origin with no link; the link itself when it is the same origin; otherwise asked or invalid', () => {
    expect(joinServerChoice('https://c.example/site/')).toEqual({ kind: 'own', server: 'https://c.example' });
    expect(joinServerChoice('https://c.example/site/?server=https://c.example/px/')).toEqual({ kind: 'own', server: 'https://c.example/px' });
    expect(joinServerChoice('https://c.example/site/?server=https://d.example')).toEqual({ kind: 'ask', requested: { url: 'https://d.example', origin: 'https://d.example' }, own: 'https://c.example' });
    expect(joinServerChoice('https://c.example/site/?server=nope')).toEqual({ kind: 'invalid', own: 'https://c.example', message: `the join link's coordinator (?server=) is not an absolute URL${tail}` });
  });
});
