import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, LiveEvents, type CoordinatorApp } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

// The dashboard plugin without a browser: static files, path checks, and the server-sent event stream.

describe('dashboard and /site/ over HTTP', () => {
  let c: CoordinatorApp;
  let url: string;
  const events = new LiveEvents();
  const siteDir = tempDir('fedtune-site-');

  beforeAll(async () => {
    mkdirSync(join(siteDir, 'tfjs-wasm'));
    writeFileSync(join(siteDir, 'index.html'), '<!doctype html><title>site</title>');
    writeFileSync(join(siteDir, 'tfjs-wasm', 'x.wasm'), Buffer.from([0, 97, 115, 109]));
    writeFileSync(join(tempDir(), 'secret.txt'), 'no');
    events.publish({ type: 'waiting', joined: 1, needed: 2 });
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, events, siteDir, live: () => ({ runId: 'r1', phase: 'waiting', sites: [] }) });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => c.app.close());

  it('serves the dashboard at / and its assets', async () => {
    const page = await c.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('/dashboard/dashboard.js');
    const js = await c.app.inject({ method: 'GET', url: '/dashboard/dashboard.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('javascript');
  });

  it('serves the built site at /site/ with wasm as application/wasm, and nothing outside it', async () => {
    expect((await c.app.inject({ method: 'GET', url: '/site' })).headers.location).toBe('/site/');
    const index = await c.app.inject({ method: 'GET', url: '/site/' });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('<title>site</title>');
    const wasm = await c.app.inject({ method: 'GET', url: '/site/tfjs-wasm/x.wasm' });
    expect(wasm.headers['content-type']).toBe('application/wasm');
    for (const bad of ['/site/../package.json', '/site/%2e%2e/%2e%2e/package.json', '/site/..%2fsecret.txt', '/dashboard/../dashboard-plugin.ts', '/site/missing.js']) {
      const res = await c.app.inject({ method: 'GET', url: bad });
      expect(res.statusCode, bad).toBe(404);
      expect(res.json().error.code, bad).toBe('not_found');
    }
  });

  it('says how to build the site when it is missing', async () => {
    const bare = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, siteDir: join(siteDir, 'nope') });
    const res = await bare.app.inject({ method: 'GET', url: '/site/' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toContain('npm run build');
    await bare.app.close();
  });

  it('streams a snapshot with the history, then engine events and live status; close does not wait for it', async () => {
    const res = await fetch(`${url}/api/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before "${needle}"`);
        text += decoder.decode(value);
      }
    };
    await readUntil('\n\n');
    const snapshot = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]);
    expect(snapshot.live).toMatchObject({ runId: 'r1', phase: 'waiting' });
    expect(snapshot.events).toHaveLength(1);
    expect(snapshot.events[0]).toMatchObject({ type: 'waiting', joined: 1, needed: 2 });
    expect(typeof snapshot.events[0].at).toBe('string');
    events.publish({ type: 'result', round: 1, siteId: 'site-1', accepted: false, code: 'non_finite', reason: 'NaN in layer 0' });
    await readUntil('event: live');
    expect(text).toContain('event: engine\ndata: {"type":"result","round":1,"siteId":"site-1","accepted":false,"code":"non_finite","reason":"NaN in layer 0"');
    // The stream is still open; closing the app ends it instead of hanging.
    await c.app.close();
    await readUntil('IMPOSSIBLE').catch((err: Error) => expect(err.message).toContain('stream ended'));
  });
});
