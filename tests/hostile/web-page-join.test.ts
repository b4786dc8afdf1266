import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { SiteTokenStore, type RunningCoordinator } from '@fedtune/coordinator';
import { webPageJoinCheck } from '../../coordinator/src/transport/web-page-join-check.ts';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';
import { join } from 'node:path';

const REFUSAL = /^a web page \((.+)\) may not join a coordinator open to this machine only: open the browser site at this coordinator's own \/site\/, or register sites with site tokens \(fedtune sites add\)$/;

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('webPageJoinCheck: which websocket upgrades a coordinator open to this machine refuses', () => {
  const open = webPageJoinCheck(() => true);
  const guarded = webPageJoinCheck(() => false);
  // [what, headers, refused because (undefined: accepted)]
  const cases: Array<[string, Record<string, string>, string | undefined]> = [
    ['a Node site (no Origin)', { host: '127.0.0.1:8080' }, undefined],
    ['a Node site addressing localhost', { host: 'localhost:8080' }, undefined],
    ["the coordinator's own /site/ page", { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }, undefined],
    ["its own page at localhost", { host: 'localhost:8080', origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' }, undefined],
    ['a page on another port of this machine', { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:18081' }, 'Origin http://127.0.0.1:18081'],
    ['a page on another site', { host: '127.0.0.1:8080', origin: 'https://evil.example' }, 'Origin https://evil.example'],
    ['a page whose browser says cross-site', { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'cross-site' }, 'Sec-Fetch-Site: cross-site'],
    ['an Origin that is no URL', { host: '127.0.0.1:8080', origin: 'null' }, 'Origin null'],
    ['DNS rebinding: same origin, a name that is not loopback', { host: 'evil.example:8080', origin: 'http://evil.example:8080' }, 'Host evil.example:8080'],
    ['a Node site addressing a LAN name (no Origin)', { host: 'coordinator.lan:8080' }, undefined],
  ];
  it.each(cases)('%s', (_what, headers, because) => {
    const refusal = open(request(headers));
    if (because === undefined) expect(refusal).toBeUndefined();
    else expect(REFUSAL.exec(refusal ?? '')?.[1]).toBe(because);
    // Where sites need tokens or the coordinator is exposed, nothing is refused here.
    expect(guarded(request(headers))).toBeUndefined();
  });
});

/** Opens a raw websocket to the coordinator's socket.io endpoint with `origin`: whether the upgrade succeeded, or the refusal. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ open: boolean; status?: number; body?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ open: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ open: false, status: res.statusCode, body }));
    });
    ws.on('error', () => resolve({ open: false }));
  });
}

describe('over real socket.io: a page of another origin cannot join a loopback coordinator with no site tokens', () => {
  let open: RunningCoordinator;
  let tokens: RunningCoordinator;
  let sites: SiteTokenStore;
  beforeAll(async () => {
    open = await startTinyCoordinator({ runId: 'web-open', minSites: 5, apiRateLimit: false });
    sites = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    sites.add('site-a');
    tokens = await startTinyCoordinator({ runId: 'web-tokens', minSites: 5, access: { store: sites }, apiRateLimit: false });
  }, 60_000);
  afterAll(async () => {
    await open?.close();
    await tokens?.close();
    sites?.close();
  });

  it('refuses the upgrade with the reason; its own origin and Node sites (no Origin) connect', async () => {
    const host = new URL(open.url!).host;
    const refused = await upgrade(open.url!, { Origin: 'http://127.0.0.1:18081' });
    expect(refused.open).toBe(false);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('may not join a coordinator open to this machine only');
    const rebound = await upgrade(open.url!, { Origin: 'http://evil.example', Host: 'evil.example' });
    expect(rebound.open).toBe(false);
    expect((await upgrade(open.url!, { Origin: `http://${host}` })).open).toBe(true);
    expect((await upgrade(open.url!, {})).open).toBe(true);
  });

  it('where sites need tokens, a page of another origin may connect (its hello needs a token like anyone\'s)', async () => {
    expect((await upgrade(tokens.url!, { Origin: 'http://127.0.0.1:18081' })).open).toBe(true);
  });
});
