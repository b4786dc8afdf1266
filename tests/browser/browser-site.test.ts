import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SITE_DIR, loadModelDir, pretrainedModelDir, type EngineEvent } from '@fedtune/coordinator';
import { encodeWeights, readModelWeights, type Dataset, type RunReport } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, startTestFederation, tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';
import { recordViolations, violations } from './csp-violations.ts';
import { containsFloat32Run, recordSentTraffic, type SentItem } from './page-traffic.ts';

// One federation — 2 Node sites and 1 browser tab in real headless Chromium — runs 3 rounds, while a second
// tab watches the dashboard. The tests below check the run, the tab's traffic and the dashboard.

const mode = browserTestModeWithNotice('tests/browser/browser-site.test.ts');
const ROUNDS = 3;
const BROWSER_SITE = 'browser-1';
/** Planted in the browser site's CSV: 64 pixels of 10 rows. */
const MARKER = '0.123457';
const ARTIFACTS = join(process.cwd(), 'artifacts');

interface DashboardView {
  rounds: number;
  phase: string;
  sites: string[];
  accepted: string[];
}

/** Writes the site's CSV itself (writeCsvDataset rounds to 4 decimals), with the marker planted. */
function writeMarkedCsv(path: string, ds: Dataset): void {
  const f = ds.x.length / ds.y.length;
  const lines = [['label', ...Array.from({ length: f }, (_, i) => `px${i}`)].join(',')];
  for (let i = 0; i < ds.y.length; i++) {
    const row = [String(ds.y[i])];
    for (let j = 0; j < f; j++) {
      const v = ds.x[i * f + j];
      row.push(i < 10 && j >= 300 && j < 364 ? MARKER : v === 0 ? '0' : v.toFixed(4));
    }
    lines.push(row.join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

// In CI a missing Chromium is a failure, counted as one (not four skipped tests).
describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('have Chromium to run in', () => {
    throw new Error(`the browser tests must run in CI, but there is ${MISSING_CHROMIUM}`);
  });
});

describe.runIf(mode === 'run')('browser site in headless Chromium (2 Node sites + 1 tab, 3 rounds)', () => {
  let browser: Browser;
  let siteContext: BrowserContext;
  let dashContext: BrowserContext;
  let sitePage: Page;
  let dashPage: Page;
  let sent: SentItem[] = [];
  let report: RunReport;
  const engineEvents: EngineEvent[] = [];
  /** What the dashboard showed each time its round count changed, with Node's time. */
  const dashboardViews: Array<DashboardView & { at: number }> = [];
  /** Engine events with Node's time. */
  const timedEvents: Array<{ event: EngineEvent; at: number }> = [];
  let runDir = '';
  let encodedWeightBytes = 0;
  let csvExamples = 0;
  let close: (() => Promise<void>) | undefined;
  let siteCspHeader = '';

  beforeAll(async () => {
    if (!existsSync(join(DEFAULT_SITE_DIR, 'index.html'))) throw new Error(`client-web is not built (${DEFAULT_SITE_DIR}): run "npm run build"`);
    browser = await launchChromium();
    const dir = tempDir('fedtune-browser-');
    const csv = join(dir, `${BROWSER_SITE}.csv`);
    const digits = head(builtinDigitsSites({ sites: 3, partition: { kind: 'dirichlet', alpha: 1 }, seed: 11 })[2], 400);
    csvExamples = digits.y.length;
    writeMarkedCsv(csv, digits);

    await selectNodeBackend();
    const pretrained = await loadModelDir(pretrainedModelDir('mlp'));
    encodedWeightBytes = encodeWeights(readModelWeights(pretrained)).byteLength;
    pretrained.dispose();

    const fed = await startTestFederation({
      sites: 2,
      rounds: ROUNDS,
      transport: 'socket',
      maxSiteExamples: 400,
      holdoutExamples: 300,
      config: { minSites: 3, federatedEvaluation: 'every-round', runId: 'browser-e2e' },
      onEvent: (e) => {
        engineEvents.push(e);
        timedEvents.push({ event: e, at: Date.now() });
      },
    });
    const { coordinator } = fed;
    close = async () => {
      await coordinator.close();
    };
    const url = coordinator.url!;
    runDir = coordinator.runDir;

    dashContext = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
    dashPage = await dashContext.newPage();
    // Record, in Node's clock, what the dashboard shows each time its round count changes.
    await dashPage.exposeFunction('__dashboardChanged', (view: DashboardView) => dashboardViews.push({ ...view, at: Date.now() }));
    await dashPage.goto(`${url}/`);
    await dashPage.waitForSelector('body[data-connected="true"]');
    await dashPage.evaluate(() => {
      const w = window as unknown as { __dashboardChanged: (v: unknown) => void };
      new MutationObserver(() =>
        w.__dashboardChanged({
          rounds: Number(document.body.dataset.rounds),
          phase: document.body.dataset.phase ?? '',
          sites: [...document.querySelectorAll('#sites tbody tr')].map((tr) => tr.textContent ?? ''),
          accepted: [...document.querySelectorAll('#updates tbody tr.accepted')].map((tr) => (tr as HTMLElement).dataset.site ?? ''),
        }),
      ).observe(document.body, { attributes: true, attributeFilter: ['data-rounds'] });
    });

    siteContext = await browser.newContext();
    sitePage = await siteContext.newPage();
    sitePage.on('pageerror', (err) => console.error(`[browser page] ${err.message.slice(0, 300)}`));
    sent = recordSentTraffic(sitePage);
    // The page's CSP violations (site-csp.ts), recorded before any of its scripts run.
    await recordViolations(sitePage);
    siteCspHeader = (await sitePage.goto(`${url}/site/?server=${encodeURIComponent(url)}&site=${BROWSER_SITE}`))!.headers()['content-security-policy'] ?? '';
    await sitePage.waitForSelector('[data-testid="backend"][data-backend]', { timeout: 30_000 });
    await sitePage.setInputFiles('#csv-file', csv);
    await sitePage.waitForSelector('body[data-phase="loaded"]');
    await sitePage.click('#join');

    report = await coordinator.done;
    await sitePage.waitForSelector('body[data-phase="complete"]', { timeout: 30_000 });
    await dashPage.waitForSelector(`body[data-rounds="${ROUNDS}"]`, { timeout: 10_000 });
    await dashPage.waitForFunction(() => document.body.dataset.phase === 'complete', undefined, { timeout: 10_000 });
    await Promise.all(fed.siteRuns);
    mkdirSync(ARTIFACTS, { recursive: true });
    await dashPage.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await sitePage.screenshot({ path: join(ARTIFACTS, 'browser-site.png'), fullPage: true });
  });

  afterAll(async () => {
    await browser?.close();
    await close?.();
  });

  it('completes 3 rounds, with the browser site accepted and counted in every round', async () => {
    expect(report.status).toBe('complete');
    expect(report.rounds).toHaveLength(ROUNDS);
    const onDisk = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as RunReport;
    for (const r of onDisk.rounds) {
      const browserUpdate = r.accepted.find((a) => a.siteId === BROWSER_SITE);
      expect(browserUpdate, `round ${r.round}`).toBeDefined();
      expect(r.accepted.map((a) => a.siteId).sort()).toEqual([BROWSER_SITE, 'site-1', 'site-2']);
      expect(r.rejected).toEqual([]);
      // The browser's train split of its 400 examples (10% validation and 10% test held back).
      expect(browserUpdate!.numExamples).toBe(csvExamples - 2 * Math.round(csvExamples * 0.1));
      expect(r.federated?.sites.map((s) => s.siteId)).toContain(BROWSER_SITE);
    }
    const joined = engineEvents.find((e) => e.type === 'site-joined' && e.siteId === BROWSER_SITE);
    expect(joined).toMatchObject({ runtime: 'browser' });
    const backend = await sitePage.getAttribute('[data-testid="backend"]', 'data-backend');
    expect(['webgl', 'wasm', 'cpu']).toContain(backend);
    expect(joined).toMatchObject({ backend });
    // The page showed a row per round with the global model's accuracy on its own test split.
    expect(await sitePage.locator('#rounds tbody tr').count()).toBe(ROUNDS);
    const throughput = await sitePage.locator('#rounds tbody tr td:nth-child(5)').allTextContents();
    const node = report.rounds.flatMap((r) => r.accepted.filter((a) => a.siteId !== BROWSER_SITE).map((a) => a.numExamples / (a.durationMs / 1000)));
    console.log(`[throughput during the run] browser (${backend}): ${throughput.join(', ')} samples/s; node sites: ${node.map((v) => v.toFixed(0)).join(', ')} samples/s (3 sites share 2 cores)`);
  });

  it('joined and trained under its strict CSP with no violation', async () => {
    expect(siteCspHeader).toContain("default-src 'none'");
    // Its link names this coordinator: that origin is all it may reach besides its own.
    const origin = new URL(sitePage.url()).origin;
    expect(siteCspHeader).toContain(`connect-src 'self' ${origin} ${origin.replace('http', 'ws')};`);
    expect(await violations(sitePage)).toEqual([]);
  });

  it('showed the data summary before sending anything', async () => {
    const summary = await sitePage.locator('[data-testid="summary-line"]').textContent();
    expect(summary).toContain(`${csvExamples} examples`);
    expect(summary).toContain('784 features');
  });

  it('sends only updates, counts and metrics: upload volume matches the updates, the planted marker never leaves', () => {
    const http = sent.filter((s) => s.kind === 'http');
    const binary = sent.filter((s) => s.kind === 'ws-binary');
    const text = sent.filter((s) => s.kind === 'ws-text');
    // HTTP: only GETs of the page's own files, no bodies.
    for (const s of http) {
      expect(s.method, s.url).toBe('GET');
      expect(s.bytes.byteLength, s.url).toBe(0);
    }
    // Binary frames: exactly one encoded update per round, each the size of the model's weights.
    expect(binary.map((s) => s.bytes.byteLength)).toEqual(Array(ROUNDS).fill(encodedWeightBytes));
    // Text frames: socket.io framing, hello, fit/evaluate result metadata — small JSON.
    const textBytes = text.reduce((n, s) => n + s.bytes.byteLength, 0);
    expect(textBytes).toBeLessThan(16 * 1024);
    const total = sent.reduce((n, s) => n + s.bytes.byteLength, 0);
    expect(total).toBeLessThan(ROUNDS * encodedWeightBytes + 16 * 1024);
    console.log(`[privacy] the tab sent ${total} bytes: ${binary.length} updates × ${encodedWeightBytes} B + ${textBytes} B of JSON in ${text.length} text frames; ${http.length} bodiless GETs`);
    // The marker (as text, or as raw float32 pixels) appears nowhere.
    for (const s of sent) {
      expect(s.url.includes(MARKER) || s.url.includes('123457'), s.url).toBe(false);
      expect(s.bytes.includes(MARKER) || s.bytes.includes('0.12345'), `${s.kind} to ${s.url}`).toBe(false);
      expect(containsFloat32Run(s.bytes, Number(MARKER), 8), `${s.kind} to ${s.url}`).toBe(false);
    }
  });

  it('the dashboard showed rounds and updates as they happened', async () => {
    const roundEnd = (k: number) => timedEvents.find((t) => t.event.type === 'round-end' && t.event.record.round === k)!.at;
    const completedAt = timedEvents.find((t) => t.event.type === 'complete')!.at;
    for (let k = 1; k <= ROUNDS; k++) {
      const view = dashboardViews.find((v) => v.rounds === k);
      expect(view, `dashboard never showed ${k} round(s)`).toBeDefined();
      // Shown once the round ended and, for all but the last round, while the run was still going.
      expect(view!.at).toBeGreaterThanOrEqual(roundEnd(k));
      if (k < ROUNDS) {
        expect(view!.at).toBeLessThan(completedAt);
        expect(view!.phase).toBe('running');
      }
      expect(view!.accepted.filter((s) => s === BROWSER_SITE)).toHaveLength(k);
    }
    const midRun = dashboardViews.find((v) => v.rounds === 1)!;
    expect(midRun.sites).toHaveLength(3);
    expect(midRun.sites.some((s) => s.includes(BROWSER_SITE) && s.includes('browser') && s.includes('connected'))).toBe(true);
    expect(await dashPage.locator('#rounds tbody tr').count()).toBe(ROUNDS);
    const accepted = await dashPage.locator(`#updates tbody tr.accepted[data-site="${BROWSER_SITE}"]`).count();
    expect(accepted).toBe(ROUNDS);
    expect(await dashPage.locator('#updates tbody tr.accepted').count()).toBe(3 * ROUNDS);
    // After the run, the sites are still listed, marked as finished (they left when the run ended).
    const after = await dashPage.locator(`#sites tbody tr[data-site="${BROWSER_SITE}"]`).textContent();
    expect(after).toContain('finished');
    expect(await dashPage.locator('#links a[href$="/model/model.json"]').count()).toBe(1);
    expect(existsSync(join(ARTIFACTS, 'dashboard.png'))).toBe(true);
  });
});
