import { describe, expect, it } from 'vitest';
import { serverPathPrefix, socketIoConnector, socketIoEndpoint, urlUnderServer, type ModelRef } from '@fedtune/shared';
import { fetchModelWeights } from '../../shared/src/client/fetch-model-weights.ts';
import { fetchRunTerms } from '../../cli/src/commands/show-terms.ts';
import { startTestFederation, tempDir } from '../helpers/federation.ts';
import { startPrefixProxy } from '../helpers/prefix-proxy.ts';

describe('a coordinator URL with a path prefix (nodes behind a reverse proxy under /fedtune/)', () => {
  it.each([
    ['http://127.0.0.1:8080', ''],
    ['http://127.0.0.1:8080/', ''],
    ['https://proxy.example/fedtune', '/fedtune'],
    ['https://proxy.example/fedtune/', '/fedtune'],
    ['https://proxy.example/a/b//', '/a/b'],
  ])('serverPathPrefix(%s) = %j', (url, prefix) => {
    expect(serverPathPrefix(url)).toBe(prefix);
  });

  it.each([
    ['http://127.0.0.1:8080', '/api/v1/models/3/weights', 'http://127.0.0.1:8080/api/v1/models/3/weights'],
    ['https://proxy.example/fedtune/', '/api/v1/models/3/weights', 'https://proxy.example/fedtune/api/v1/models/3/weights'],
    ['https://proxy.example/fedtune', '/api/v1/terms', 'https://proxy.example/fedtune/api/v1/terms'],
    ['https://proxy.example/fedtune/', 'api/v1/terms', 'https://proxy.example/fedtune/api/v1/terms'],
    // A path is never another host: '//evil.example/x' stays on the server's origin.
    ['https://proxy.example/fedtune/', '//evil.example/x', 'https://proxy.example/fedtune//evil.example/x'],
  ])('urlUnderServer(%s, %s)', (server, path, url) => {
    expect(urlUnderServer(server, path)).toBe(url);
  });

  it.each([
    ['http://127.0.0.1:8080', undefined, { url: 'http://127.0.0.1:8080', path: '/socket.io' }],
    ['http://127.0.0.1:8080/', undefined, { url: 'http://127.0.0.1:8080', path: '/socket.io' }],
    ['https://proxy.example/fedtune/', undefined, { url: 'https://proxy.example', path: '/fedtune/socket.io' }],
    ['https://proxy.example/fedtune', undefined, { url: 'https://proxy.example', path: '/fedtune/socket.io' }],
    ['https://proxy.example/fedtune/', '/custom/io', { url: 'https://proxy.example', path: '/custom/io' }],
    ['/relative/page', undefined, { url: '/relative/page', path: '/socket.io' }],
  ])('socketIoEndpoint(%s, %s)', (url, path, endpoint) => {
    expect(socketIoEndpoint(url, path)).toEqual(endpoint);
  });

  it('fetchModelWeights asks under the prefix', async () => {
    const asked: string[] = [];
    const ref: ModelRef = { path: '/api/v1/models/1/weights', sha256: '0'.repeat(64), bytes: 8 };
    await expect(fetchModelWeights('https://proxy.example/fedtune/', ref, { siteId: 's' }, async (url) => (asked.push(url), new Response('nope', { status: 404 })))).rejects.toMatchObject({ code: 'model_integrity' });
    expect(asked).toEqual(['https://proxy.example/fedtune/api/v1/models/1/weights']);
  });

  it('20 real sites join through a real prefix-stripping proxy over socket.io and fetch every model through it (--model-delivery http); the terms too', async () => {
    let resolveTarget!: (url: string) => void;
    const target = new Promise<string>((r) => (resolveTarget = r));
    const proxy = await startPrefixProxy('/fedtune', target);
    const fetched: string[] = [];
    try {
      const { coordinator, siteRuns } = await startTestFederation({
        sites: 20,
        rounds: 1,
        seed: 5,
        transport: 'socket',
        runsDir: tempDir(),
        maxSiteExamples: 40,
        holdoutExamples: 100,
        config: { runId: 'behind-proxy', modelDelivery: 'http', federatedEvaluation: 'never' },
        // Every site knows only the proxy's URL (as `fedtune client --server https://proxy.example/fedtune/` would).
        wrapConnector: () => socketIoConnector({ url: proxy.url }),
        siteOptions: () => ({
          modelServer: 'http://127.0.0.1:1/not-used',
          modelFetch: (url, init) => {
            fetched.push(url);
            return fetch(url, init);
          },
        }),
      });
      resolveTarget(coordinator.url!);
      const report = await coordinator.done;
      const outcomes = await Promise.all(siteRuns);
      const terms = await fetchRunTerms(proxy.url);
      await coordinator.close();
      expect(report.status).toBe('complete');
      expect(report.rounds[0].accepted).toHaveLength(20);
      expect(outcomes.filter((o) => o.completed)).toHaveLength(20);
      expect(fetched.length).toBeGreaterThanOrEqual(20);
      for (const url of fetched) expect(url).toMatch(new RegExp(`^${proxy.url}api/v1/models/\\d+/weights$`));
      expect(proxy.forwarded.filter((p) => p.startsWith('upgrade /socket.io/'))).toHaveLength(20);
      expect(proxy.forwarded.filter((p) => /^\/api\/v1\/models\/\d+\/weights$/.test(p)).length).toBe(fetched.length);
      expect(proxy.refused).toEqual([]);
      expect(terms.terms.runId).toBe('behind-proxy');
    } finally {
      await proxy.close();
    }
  }, 300_000);
});
