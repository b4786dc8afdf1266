import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SITE_DIR, loadModelDir, pretrainedModelDir, type EngineEvent } from '@fedtune/coordinator';
import { decodeWeights, encodeWeights, readModelWeights, type Dataset, type RunReport } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, startTestFederation, tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';
import { recordSentTraffic, type SentItem } from './page-traffic.ts';

// Secure aggregation with a browser site (issue 7): 2 Node sites and 1 headless Chromium tab run 2 rounds
// with RunConfig.secureAggregation on. The tab must take part in the secagg* exchange like a Node site:
// it never sends a plain 'fitResult', and nothing it sends decodes as model weights.

const mode = browserTestModeWithNotice('tests/browser/browser-secure-aggregation.test.ts');
const ROUNDS = 2;
const BROWSER_SITE = 'browser-1';

function writeCsv(path: string, ds: Dataset): void {
  const f = ds.x.length / ds.y.length;
  const lines = [['label', ...Array.from({ length: f }, (_, i) => `px${i}`)].join(',')];
  for (let i = 0; i < ds.y.length; i++) {
    const row = [String(ds.y[i])];
    for (let j = 0; j < f; j++) {
      const v = ds.x[i * f + j];
      row.push(v === 0 ? '0' : v.toFixed(4));
    }
    lines.push(row.join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

/** The socket.io event name of a text frame (`42["event",…]` or `451-["event",…]`), if it carries one. */
function socketIoEvent(frame: string): string | undefined {
  const m = /^4[25]\d*-?(?:\/[^,]*,)?\d*\["([^"]+)"/.exec(frame);
  return m?.[1];
}

// In CI a missing Chromium is a failure, counted as one (not several skipped tests).
describe.runIf(mode === 'fail')('browser secure-aggregation tests in CI', () => {
  it('have Chromium to run in', () => {
    throw new Error(`the browser tests must run in CI, but there is ${MISSING_CHROMIUM}`);
  });
});

describe.runIf(mode === 'run')('secure aggregation with a browser site (2 Node sites + 1 tab, 2 rounds)', () => {
  let browser: Browser;
  let sitePage: Page;
  let sent: SentItem[] = [];
  let report: RunReport;
  const engineEvents: EngineEvent[] = [];
  const pageErrors: string[] = [];
  let runDir = '';
  let encodedWeightBytes = 0;
  let parameterCount = 0;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (!existsSync(join(DEFAULT_SITE_DIR, 'index.html'))) throw new Error(`client-web is not built (${DEFAULT_SITE_DIR}): run "npm run build"`);
    browser = await launchChromium();
    const dir = tempDir('fedtune-browser-secagg-');
    const csv = join(dir, `${BROWSER_SITE}.csv`);
    writeCsv(csv, head(builtinDigitsSites({ sites: 3, partition: { kind: 'dirichlet', alpha: 1 }, seed: 11 })[2], 200));

    await selectNodeBackend();
    const pretrained = await loadModelDir(pretrainedModelDir('mlp'));
    const weights = readModelWeights(pretrained);
    encodedWeightBytes = encodeWeights(weights).byteLength;
    parameterCount = weights.arrays.reduce((n, w) => n + w.length, 0);
    pretrained.dispose();

    const fed = await startTestFederation({
      sites: 2,
      rounds: ROUNDS,
      transport: 'socket',
      maxSiteExamples: 200,
      holdoutExamples: 200,
      config: {
        minSites: 3,
        runId: 'browser-secagg',
        secureAggregation: { clip: 1 },
        federatedEvaluation: 'never',
        robustness: { when: 'never' },
      },
      onEvent: (e) => engineEvents.push(e),
    });
    const { coordinator } = fed;
    close = () => coordinator.close();
    const url = coordinator.url!;
    runDir = coordinator.runDir;

    const context = await browser.newContext();
    sitePage = await context.newPage();
    sitePage.on('pageerror', (err) => {
      pageErrors.push(err.message);
      console.error(`[browser page] ${err.message.slice(0, 300)}`);
    });
    sent = recordSentTraffic(sitePage);
    await sitePage.goto(`${url}/site/?server=${encodeURIComponent(url)}&site=${BROWSER_SITE}`);
    await sitePage.waitForSelector('[data-testid="backend"][data-backend]', { timeout: 30_000 });
    await sitePage.setInputFiles('#csv-file', csv);
    await sitePage.waitForSelector('body[data-phase="loaded"]');
    await sitePage.click('#join');

    report = await coordinator.done;
    await sitePage.waitForSelector('body[data-phase="complete"]', { timeout: 30_000 });
    await Promise.all(fed.siteRuns);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await close?.();
  });

  it('completes 2 secure rounds with 3 survivors each, the browser site among them', () => {
    expect(report.status).toBe('complete');
    expect(report.rounds).toHaveLength(ROUNDS);
    const onDisk = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as RunReport;
    expect(onDisk.rounds).toHaveLength(ROUNDS);
    for (const r of onDisk.rounds) {
      expect(r.accepted.map((a) => a.siteId).sort(), `round ${r.round}`).toEqual([BROWSER_SITE, 'site-1', 'site-2']);
      expect(r.rejected).toEqual([]);
    }
    expect(engineEvents.find((e) => e.type === 'site-joined' && e.siteId === BROWSER_SITE)).toMatchObject({ runtime: 'browser' });
    expect(pageErrors).toEqual([]);
  });

  it('the tab took part in the secagg exchange and never sent a plain fitResult', () => {
    const events = sent.filter((s) => s.kind === 'ws-text').map((s) => socketIoEvent(s.bytes.toString('utf8'))).filter((e): e is string => !!e);
    expect(events).not.toContain('fitResult');
    for (const e of ['secaggAdvertise', 'secaggShareKeys', 'secaggMasked', 'secaggUnmaskResponse']) {
      expect(events.filter((x) => x === e), e).toHaveLength(ROUNDS);
    }
  });

  it('its binary frames are masked vectors, none decodes as the model weights', () => {
    const binary = sent.filter((s) => s.kind === 'ws-binary');
    expect(binary.length).toBeGreaterThanOrEqual(ROUNDS);
    for (const s of binary) {
      expect(s.bytes.byteLength).not.toBe(encodedWeightBytes);
      expect(() => decodeWeights(new Uint8Array(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength))).toThrow();
    }
    // One masked input per round: (parameters + 1) uint32 — the clipped, weighted, quantized delta plus its weight.
    const masked = binary.filter((s) => s.bytes.byteLength === (parameterCount + 1) * 4);
    expect(masked).toHaveLength(ROUNDS);
    const total = sent.reduce((n, s) => n + s.bytes.byteLength, 0);
    console.log(`[secure browser site] sent ${total} B: ${binary.length} binary frames (${binary.map((b) => b.bytes.byteLength).join(', ')} B), masked vector ${(parameterCount + 1) * 4} B vs plain update ${encodedWeightBytes} B`);
  });
});
