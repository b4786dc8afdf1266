import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '@fedtune/coordinator';
import { createFileLogger, redactUrl, requestForLog } from '../../coordinator/src/http/structured-log.ts';
import { tempDir } from '../helpers/federation.ts';

// Audit: a browser join link (/site/?server=…&site=…&token=SECRET) was written to the request log whole, the site
// token in clear. A logged URL now shows every secret-named query parameter as [redacted], the rest as sent.

describe('request log: secrets in URLs are redacted', () => {
  it.each([
    ['/site/?server=https%3A%2F%2Fc.example&site=a&token=SECRET', '/site/?server=https%3A%2F%2Fc.example&site=a&token=[redacted]'],
    ['/site/?token=SECRET', '/site/?token=[redacted]'],
    ['/site/?token=', '/site/?token=[redacted]'],
    ['/x?access_token=S&apiKey=S&api-key=S&client_secret=S&password=S&Authorization=S&TOKEN=S', '/x?access_token=[redacted]&apiKey=[redacted]&api-key=[redacted]&client_secret=[redacted]&password=[redacted]&Authorization=[redacted]&TOKEN=[redacted]'],
    ['/x?to%6Ben=SECRET&a=1', '/x?to%6Ben=[redacted]&a=1'],
    ['/x?token=a&token=b', '/x?token=[redacted]&token=[redacted]'],
    ['/x?site=a&backend=wasm&policy=%7B%7D', '/x?site=a&backend=wasm&policy=%7B%7D'],
    ['/x?token', '/x?token'],
    ['/x?%E0%A4%A=1&token=S', '/x?%E0%A4%A=1&token=[redacted]'],
    ['/x?token=S#frag', '/x?token=[redacted]#frag'],
    ['/api/runs/r-1', '/api/runs/r-1'],
    ['/tokens/x', '/tokens/x'],
  ])('redactUrl(%s) = %s', (url, expected) => expect(redactUrl(url)).toBe(expected));

  it('requestForLog redacts before it clips (a long token is not half kept)', () => {
    const url = `/site/?server=${'s'.repeat(280)}&token=${'T'.repeat(100)}`;
    expect(requestForLog({ method: 'GET', url }).url).not.toContain('T');
    expect(requestForLog({ method: 'GET', url: '/site/?site=a&token=SECRET' }).url).toBe('/site/?site=a&token=[redacted]');
  });

  it("the coordinator's request log has token=[redacted], never the token", async () => {
    const path = join(tempDir(), 'log', 'coordinator.jsonl');
    const log = createFileLogger(path);
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, loggerInstance: log.logger, siteDir: join(tempDir(), 'no-site') });
    try {
      await app.inject({ method: 'GET', url: '/site/?server=http%3A%2F%2F127.0.0.1%3A8080&site=browser-1&token=SECRET-site-token' });
    } finally {
      await app.close();
      log.close();
    }
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('SECRET');
    const urls = text.trim().split('\n').map((l) => JSON.parse(l) as { req?: { url: string } }).filter((l) => l.req).map((l) => l.req!.url);
    expect(urls).toContain('/site/?server=http%3A%2F%2F127.0.0.1%3A8080&site=browser-1&token=[redacted]');
  });
});
