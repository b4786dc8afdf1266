import type { Page } from 'playwright-core';

export interface SentItem {
  kind: 'http' | 'ws-text' | 'ws-binary';
  /** URL for HTTP requests, the socket's URL for frames. */
  url: string;
  method?: string;
  bytes: Buffer;
}

/**
 * Everything a page sends: every HTTP request (URL and body) and every websocket frame it sends,
 * as Chromium saw it on the wire.
 */
export function recordSentTraffic(page: Page): SentItem[] {
  const sent: SentItem[] = [];
  page.on('request', (request) => {
    sent.push({ kind: 'http', url: request.url(), method: request.method(), bytes: request.postDataBuffer() ?? Buffer.alloc(0) });
  });
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      if (typeof payload === 'string') sent.push({ kind: 'ws-text', url: ws.url(), bytes: Buffer.from(payload, 'utf8') });
      else sent.push({ kind: 'ws-binary', url: ws.url(), bytes: Buffer.from(payload) });
    });
  });
  return sent;
}

/** Whether `haystack` holds `run` consecutive copies of the float32 `value` (raw pixels would). */
export function containsFloat32Run(haystack: Buffer, value: number, run: number): boolean {
  const one = Buffer.alloc(4);
  one.writeFloatLE(value);
  return haystack.includes(Buffer.concat(Array.from({ length: run }, () => one)));
}
