/**
 * Local training throughput of the built-in model (digits MLP, batch 32, adam) in a browser tab vs a Node
 * site on this machine — the same `fitLocal` loop (client-web/src/bench/measure-throughput.ts) in both.
 * Needs Chromium (/usr/bin/chromium or FEDTUNE_CHROMIUM) and `npm run build`.
 * Run: npx tsx bench/browser-throughput.ts [--examples 2000]   (about a minute). Writes bench/results/browser-throughput.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildApp } from '@fedtune/coordinator';
import { selectNodeBackend } from '@fedtune/shared/node';
import { measureFitThroughput, type ThroughputResult } from '../client-web/src/bench/measure-throughput.ts';
import { tempDir } from '../tests/helpers/federation.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const options = { examples: arg('examples', 2000), batchSize: arg('batch', 32), epochs: 1, repeats: 3 };

const rows: Array<{ where: string; result: ThroughputResult; note?: string }> = [];

for (const backend of ['wasm', 'cpu']) {
  await selectNodeBackend(backend);
  rows.push({ where: 'node', result: await measureFitThroughput({ ...options, repeats: backend === 'cpu' ? 1 : options.repeats }) });
}

const app = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20 });
const url = await app.app.listen({ port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({
  executablePath: process.env.FEDTUNE_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  for (const backend of [undefined, 'webgl', 'wasm', 'cpu']) {
    // A fresh tab per backend: tfjs keeps one engine per page.
    const page = await browser.newPage();
    await page.goto(`${url}/site/bench.html`);
    await page.waitForSelector('body[data-ready="true"]');
    try {
      const result = await page.evaluate((o) => window.fedtuneBench(o), { ...options, backend, repeats: backend === 'cpu' ? 1 : options.repeats });
      rows.push({ where: backend ? 'browser' : 'browser (auto)', result, note: result.skipped.join('; ') || undefined });
    } catch (err) {
      console.log(`browser ${backend}: ${(err as Error).message.split('\n')[0].slice(0, 200)}`);
    }
    await page.close();
  }
} finally {
  await browser.close();
  await app.app.close();
}

console.log(`\ndigits MLP (${rows[0].result.architecture}), ${options.examples} examples, batch ${options.batchSize}, 1 epoch, best of ${options.repeats}:`);
console.log('| where | backend | samples/s | seconds per fit |');
console.log('| --- | --- | ---: | --- |');
for (const r of rows) {
  console.log(`| ${r.where} | ${r.result.backend}${r.result.denseStack ? ' (Dense stack)' : ''} | ${r.result.samplesPerS.toFixed(0)} | ${r.result.seconds.map((s) => s.toFixed(2)).join(', ')} |${r.note ? ` skipped: ${r.note}` : ''}`);
}
mkdirSync(join('bench', 'results'), { recursive: true });
writeFileSync(join('bench', 'results', 'browser-throughput.json'), JSON.stringify({ options, rows }, null, 2));
