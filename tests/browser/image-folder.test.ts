import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, DEFAULT_SITE_DIR, type CoordinatorApp } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium } from './chromium.ts';

// The page reads a folder of images whose subfolder names are the labels, decodes them in the tab and
// summarizes them before anything is sent. (browser-site.test.ts covers CSV and the whole run.)

const mode = browserTestModeWithNotice('tests/browser/image-folder.test.ts');

describe.runIf(mode === 'run')('browser site: a folder of labeled images', () => {
  let browser: Browser;
  let c: CoordinatorApp;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(join(DEFAULT_SITE_DIR, 'index.html'))) throw new Error(`client-web is not built (${DEFAULT_SITE_DIR}): run "npm run build"`);
    browser = await launchChromium();
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20 });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.close();
  });

  it('decodes images to 28×28 grayscale and counts them per label folder', async () => {
    const page = await browser.newPage();
    const sent: string[] = [];
    page.on('websocket', (ws) => sent.push(ws.url()));
    await page.goto(`${url}/site/?backend=cpu`);
    await page.waitForSelector('[data-testid="backend"][data-backend]');
    // PNGs of different sizes and colors, drawn by the browser itself: 3 of "3", 2 of "7".
    const pngs = await page.evaluate(async () => {
      const out: string[] = [];
      for (let i = 0; i < 5; i++) {
        const canvas = Object.assign(document.createElement('canvas'), { width: 40 + i * 8, height: 40 + i * 8 });
        const ctx = canvas.getContext('2d')!;
        ctx.fillStyle = '#000';
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.fillStyle = i % 2 ? '#f00' : '#fff';
        ctx.font = `${canvas.height - 8}px sans-serif`;
        ctx.fillText(i < 3 ? '3' : '7', 6, canvas.height - 6);
        out.push(canvas.toDataURL('image/png').split(',')[1]);
      }
      return out;
    });
    const root = join(tempDir('fedtune-images-'), 'scans');
    for (const label of ['3', '7']) mkdirSync(join(root, label), { recursive: true });
    pngs.forEach((b64, i) => writeFileSync(join(root, i < 3 ? '3' : '7', `img-${i}.png`), Buffer.from(b64, 'base64')));
    writeFileSync(join(root, 'README.txt'), 'not an image');
    writeFileSync(join(root, 'unlabeled.png'), Buffer.from(pngs[0], 'base64'));

    await page.setInputFiles('#image-folder', root);
    await page.waitForSelector('body[data-phase="loaded"]');
    const summary = await page.locator('[data-testid="summary-line"]').textContent();
    expect(summary).toContain('5 examples, 784 features, 10 classes');
    const counts = await page.locator('#summary tbody tr').allTextContents();
    expect(counts[3]).toBe('33');
    expect(counts[7]).toBe('72');
    expect(sent).toEqual([]);
    await page.close();
  });

  it('refuses, before decoding, an image whose header claims 30000×30000 (3.6 GB in the tab), and a label folder named 1000000000', async () => {
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([len, body, crc]);
    };
    const png = (side: number, rows = side) => {
      const header = Buffer.alloc(13);
      header.writeUInt32BE(side, 0);
      header.writeUInt32BE(side, 4);
      header[8] = 8;
      return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(Buffer.alloc(rows * (side + 1)))), chunk('IEND', Buffer.alloc(0))]);
    };
    const refusal = async (layout: Record<string, Buffer>) => {
      const root = join(tempDir('fedtune-images-'), 'scans');
      for (const [path, bytes] of Object.entries(layout)) {
        mkdirSync(join(root, path, '..'), { recursive: true });
        writeFileSync(join(root, path), bytes);
      }
      const page = await browser.newPage();
      await page.goto(`${url}/site/?backend=cpu`);
      await page.waitForSelector('[data-testid="backend"][data-backend]');
      await page.setInputFiles('#image-folder', root);
      await page.waitForSelector('[data-testid="data-error"]:not([hidden])');
      const text = await page.textContent('[data-testid="data-error"]');
      await page.close();
      return text;
    };
    expect(await refusal({ '3/bomb.png': png(30_000, 1), '7/ok.png': png(28) })).toContain('cannot decode scans/3/bomb.png: 30000×30000 pixels is more than 50000000');
    // A JPEG whose frame header (30000×30000) comes after 320 kB of metadata: past the first 256 kB the tab reads.
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0xff, 0xff]), Buffer.alloc(0xfffd)]);
    const frame = Buffer.from([0xff, 0xc0, 0x00, 0x0b, 0x08, 0x75, 0x30, 0x75, 0x30, 0x01, 0x01, 0x11, 0x00]);
    const lateJpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), app1, app1, app1, app1, app1, frame, Buffer.from([0xff, 0xd9])]);
    expect(lateJpeg.indexOf(frame)).toBeGreaterThan(256 * 1024);
    expect(await refusal({ '3/late.jpg': lateJpeg, '7/ok.png': png(28) })).toContain('cannot decode scans/3/late.jpg: 30000×30000 pixels is more than 50000000');
    expect(await refusal({ '3/a.png': png(28), '1000000000/b.png': png(28) })).toContain('a label folder is named 1000000000: at most 65536 classes are supported');
  });
});
