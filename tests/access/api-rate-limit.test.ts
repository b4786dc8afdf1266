import { describe, expect, it } from 'vitest';
import { buildApp, errorStatus } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

describe('HTTP rate limit on /api/*', () => {
  it('answers 429 with the typed error body and Retry-After once an address has used its burst', async () => {
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: { ratePerSecond: 0.5, burst: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await app.inject({ method: 'GET', url: '/api/health', remoteAddress: '10.1.1.1' })).statusCode);
      expect(statuses).toEqual([200, 200, 200]);
      const limited = await app.inject({ method: 'GET', url: '/api/runs', remoteAddress: '10.1.1.1' });
      expect(limited.statusCode).toBe(429);
      expect(errorStatus.rate_limited).toBe(429);
      expect(limited.json()).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/too many requests from 10\.1\.1\.1; retry in 2 s/) } });
      expect(limited.headers['retry-after']).toBe('2');
      // Other addresses and non-API routes are not affected.
      expect((await app.inject({ method: 'GET', url: '/api/health', remoteAddress: '10.1.1.2' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.1.1' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('unmatched URLs are limited too (a flood of 404s), in their own bucket; with the limit off they are answered 404 as ever', async () => {
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: { ratePerSecond: 0.001, burst: 2 } });
    const off = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: false }).app;
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await app.inject({ method: 'GET', url: `/nope/${i}`, remoteAddress: '10.1.1.1' })).statusCode);
      expect(statuses).toEqual([404, 404, 429, 429]);
      const limited = await app.inject({ method: 'POST', url: '/api/nope', remoteAddress: '10.1.1.1', payload: {} });
      expect([limited.statusCode, limited.json().error.code]).toEqual([429, 'rate_limited']);
      expect((await app.inject({ method: 'GET', url: '/api/health', remoteAddress: '10.1.1.1' })).statusCode).toBe(200);
      const unlimited: number[] = [];
      for (let i = 0; i < 4; i++) unlimited.push((await off.inject({ method: 'GET', url: `/nope/${i}`, remoteAddress: '10.1.1.1' })).statusCode);
      expect(unlimited).toEqual([404, 404, 404, 404]);
      expect((await off.inject({ method: 'GET', url: '/nope' })).json()).toEqual({ error: { code: 'not_found', message: 'no route GET /nope' } });
    } finally {
      await app.close();
      await off.close();
    }
  });

  it('default is generous (100 at once) and can be switched off', async () => {
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024 });
    const off = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: false }).app;
    try {
      const burst = await Promise.all(Array.from({ length: 100 }, () => app.inject({ method: 'GET', url: '/api/health' })));
      expect(burst.every((r) => r.statusCode === 200)).toBe(true);
      const more = await Promise.all(Array.from({ length: 150 }, () => app.inject({ method: 'GET', url: '/api/health' })));
      expect(more.some((r) => r.statusCode === 429)).toBe(true);
      const unlimited = await Promise.all(Array.from({ length: 150 }, () => off.inject({ method: 'GET', url: '/api/health' })));
      expect(unlimited.every((r) => r.statusCode === 200)).toBe(true);
    } finally {
      await app.close();
      await off.close();
    }
  });

  it('model bytes (GET /api/v1/models/:version/weights) have their own bucket: sites fetching a round\'s model do not use up the API, nor the API them', async () => {
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: { ratePerSecond: 0.5, burst: 2 }, modelWeights: { version: () => undefined } });
    try {
      const at = { remoteAddress: '10.2.2.2' };
      const models = async () => (await app.inject({ method: 'GET', url: '/api/v1/models/1/weights', ...at })).statusCode;
      const api = async () => (await app.inject({ method: 'GET', url: '/api/health', ...at })).statusCode;
      expect([await models(), await models(), await models()]).toEqual([404, 404, 429]);
      // The API's bucket is untouched by the model fetches…
      expect([await api(), await api(), await api()]).toEqual([200, 200, 429]);
      // …and the models' bucket stays spent whatever the API does.
      expect(await models()).toBe(429);
    } finally {
      await app.close();
    }
  });
});
