import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildApp } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

/**
 * `/site/*` is open to anyone. On a coordinator whose browser site is not built, its 404 named the directory it
 * looked in (`/home/…/client-web/dist/ is missing`): where the coordinator is installed, to any caller. Now it
 * says only what to do.
 */
const siteDir = join(tempDir('fedtune-internal-path-'), 'client-web', 'dist');
const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, siteDir, apiRateLimit: false });
afterAll(() => app.close());

it('the missing browser site is a 404 that names no path of the coordinator', async () => {
  for (const url of ['/site/', '/site/index.html', '/site/assets/x.js']) {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode, url).toBe(404);
    expect(res.json().error).toEqual({ code: 'not_found', message: 'the browser site is not built on this coordinator: run "npm run build" there' });
    expect(res.body, url).not.toContain(siteDir);
  }
});
