import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, LiveEvents, MAX_EVENT_STREAMS, type CoordinatorApp } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

/**
 * Each `/api/events` stream never ends, gets the whole history as its snapshot, and may hold up to
 * MAX_UNREAD_EVENT_BYTES unread: a client that opened streams (50 a second within the rate limit) and never
 * read them made the coordinator hold that many times over, without bound. Now at most MAX_EVENT_STREAMS are
 * open at once; past that a new one is answered 429 rate_limited until one closes (the dashboard retries).
 */
let c: CoordinatorApp;
let url: string;
beforeAll(async () => {
  const events = new LiveEvents();
  events.publish({ type: 'waiting', joined: 0, needed: 2 });
  c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, events, apiRateLimit: false, live: () => ({ runId: 'r1', phase: 'waiting', sites: [] }) });
  url = await c.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => c.app.close());

async function open(): Promise<{ status: number; body?: unknown; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/events`, { signal: controller.signal });
  if (res.status !== 200) return { status: res.status, body: await res.json(), close: () => controller.abort() };
  await res.body!.getReader().read(); // the snapshot has arrived: the stream is open
  return { status: 200, close: () => controller.abort() };
}

it('at most MAX_EVENT_STREAMS event streams are open at once', async () => {
  expect(MAX_EVENT_STREAMS).toBe(64);
  const streams = [];
  for (let i = 0; i < MAX_EVENT_STREAMS; i++) streams.push(await open());
  expect(streams.every((s) => s.status === 200)).toBe(true);
  const refused = await open();
  expect(refused.status).toBe(429);
  expect(refused.body).toEqual({ error: { code: 'rate_limited', message: 'too many open event streams (64): close a dashboard, then retry' } });
  streams.pop()!.close();
  // The closed stream's slot is free once the coordinator has seen it close.
  let again = await open();
  for (let tries = 0; again.status !== 200 && tries < 50; tries++) {
    await new Promise((r) => setTimeout(r, 20));
    again = await open();
  }
  expect(again.status).toBe(200);
  again.close();
  for (const s of streams) s.close();
});
