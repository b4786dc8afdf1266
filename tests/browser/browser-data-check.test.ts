import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, DEFAULT_SITE_DIR, loadModelDir, pretrainedSpamModelDir, readModelText, startCoordinator, type RunningCoordinator } from '@fedtune/coordinator';
import { checkDataset, checkTextDataset, classCounts, encodeTabularRows, formatDataCheck, formatTextDataCheck, parseCsvRows, SeededRandom, TextTokenizer, vocabularyOfTextSection, type Dataset, type RunReport, type TextDataset } from '@fedtune/shared';
import { builtinSpam, selectNodeBackend } from '@fedtune/shared/node';
import { prepareBrowserSiteData } from '@fedtune/client-web';
import { head, tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium } from './chromium.ts';
import { recordSentTraffic, type SentItem } from './page-traffic.ts';

// The browser site reads a CSV with categorical columns and a text folder with the shared loaders, shows the
// shared data check in a panel (screenshot in artifacts/), applies the panel's choices, and joins a real
// coordinator over socket.io for one round. Planted raw values never reach the page's text nor the wire.

const mode = browserTestModeWithNotice('tests/browser/browser-data-check.test.ts');
const ARTIFACTS = join(process.cwd(), 'artifacts');
/** Planted in one numeric cell of the CSV and in one e-mail of the text folder. */
const CSV_MARKER = '0.918273';
const TEXT_MARKER = 'xylophonezebra';

/**
 * 60 rows `label,colour,size,weight`: label 1 for red (19 rows), else 0 (41 rows); rows 56..59 repeat rows
 * 0..3 (4 exact duplicates); rows 10 and 11 have an empty weight (2 missing values); row 5's weight is the marker.
 */
function plantedCsv(): string {
  const random = new SeededRandom(3);
  const colours = ['blue', 'green', 'red'];
  const rows: string[] = [];
  for (let i = 0; i < 56; i++) {
    const colour = colours[i % 3]!;
    const weight = i === 5 ? CSV_MARKER : i === 10 || i === 11 ? '' : random.uniform(0, 1).toFixed(3);
    rows.push(`${colour === 'red' ? 1 : 0},${colour},${random.uniform(0, 1).toFixed(3)},${weight}`);
  }
  rows.push(...rows.slice(0, 4));
  return `label,colour,size,weight\n${rows.join('\n')}\n`;
}

async function waitForPanel(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="data-check"]:not([hidden])');
}

async function panelCounts(page: Page): Promise<Record<string, string>> {
  return page.$eval('[data-testid="data-check"]', (el) => ({ ...(el as HTMLElement).dataset }) as Record<string, string>);
}

/** Everything the page shows as text, and the values of its fields. */
async function pageText(page: Page): Promise<string> {
  return page.evaluate(() => `${document.body.innerText}\n${[...document.querySelectorAll('input')].map((i) => i.value).join('\n')}`);
}

function expectNoMarker(sent: SentItem[], marker: string): void {
  expect(sent.length).toBeGreaterThan(0);
  for (const s of sent) {
    expect(s.url.includes(marker), s.url).toBe(false);
    expect(s.bytes.includes(marker), `${s.kind} to ${s.url}`).toBe(false);
  }
}

describe.runIf(mode === 'run')('browser site: data loaders and the data check, joined over socket.io', () => {
  let browser: Browser;
  let backend = '';

  beforeAll(async () => {
    if (!existsSync(join(DEFAULT_SITE_DIR, 'index.html'))) throw new Error(`client-web is not built (${DEFAULT_SITE_DIR}): run "npm run build"`);
    browser = await launchChromium();
    backend = (await selectNodeBackend()).backend;
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A coordinator over socket.io for one round of a 5-feature, 2-class dense model (initialised with `seed`), one site. */
  async function oneRoundOfFiveFeatures(runId: string, holdout: Dataset, seed: number): Promise<RunningCoordinator> {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed }) })] });
    return startCoordinator({
      runsDir: tempDir(),
      model,
      architecture: 'user',
      holdout,
      backend,
      transport: 'socket',
      config: { runId, rounds: 1, minSites: 1, federatedEvaluation: 'never', robustness: { when: 'never' }, joinTimeoutMs: 120_000, roundTimeoutMs: 120_000 },
    });
  }

  async function openSite(url: string, site: string): Promise<{ page: Page; sent: SentItem[] }> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    page.on('pageerror', (err) => console.error(`[browser page] ${err.message.slice(0, 300)}`));
    const sent = recordSentTraffic(page);
    await page.goto(`${url}/site/?server=${encodeURIComponent(url)}&site=${site}`);
    await page.waitForSelector('[data-testid="backend"][data-backend]', { timeout: 30_000 });
    return { page, sent };
  }

  it('a CSV with a categorical column: the panel counts the planted duplicates, missing values and imbalance; with drop duplicates, impute and class weights ticked it trains one round', async () => {
    const dir = tempDir('fedtune-browser-csv-');
    const csvPath = join(dir, 'shop.csv');
    const csv = plantedCsv();
    writeFileSync(csvPath, csv);
    // What the data says, by the shared code in Node.
    const tabular = encodeTabularRows(parseCsvRows(csv), { labelColumn: 'label', source: 'shop.csv' });
    const expected = checkDataset(tabular.dataset);
    expect(expected.duplicates.count).toBe(4);
    expect(expected.missing.count).toBe(2);
    expect(expected.labels.counts).toEqual([41, 19]);

    const random = new SeededRandom(4);
    const holdoutRows = Array.from({ length: 90 }, (_, i) => [i % 3 === 0 ? 1 : 0, 0, 0, 0, random.uniform(0, 1), random.uniform(0, 1)]).map((r, i) => {
      r[1 + (i % 3 === 0 ? 2 : i % 3 === 1 ? 0 : 1)] = 1;
      return r;
    });
    const holdout: Dataset = { x: Float32Array.from(holdoutRows.flatMap((r) => r.slice(1))), y: Int32Array.from(holdoutRows.map((r) => r[0]!)), featureShape: [5], numClasses: 2 };
    const coordinator = await oneRoundOfFiveFeatures('browser-csv', holdout, 2);
    try {
      const { page, sent } = await openSite(coordinator.url!, 'shop-1');
      await page.setInputFiles('#csv-file', csvPath);
      await waitForPanel(page);
      expect(await panelCounts(page)).toMatchObject({ examples: '60', duplicates: '4', missing: '2', labels: '[41,19]', imbalance: (41 / 19).toFixed(2) });
      const lines = await page.locator('#data-check-lines li').allTextContents();
      expect(lines).toEqual(formatDataCheck(expected).map((l) => l.trim()));
      // Missing values without "impute": one line saying so, and no joining.
      expect(await page.textContent('[data-testid="data-error"]')).toBe('the data has 2 missing values: tick "impute missing values", or fix the file');
      expect(await page.isDisabled('#join')).toBe(true);
      await page.locator('[data-testid="data-check"]').screenshot({ path: join(ARTIFACTS, 'browser-data-check-csv.png') });
      expect(readFileSync(join(ARTIFACTS, 'browser-data-check-csv.png')).byteLength).toBeGreaterThan(1000);

      await page.check('#impute-missing');
      await page.waitForSelector('body[data-phase="loaded"]');
      const keptAll = Number(await page.getAttribute('[data-testid="data-prepared"]', 'data-train'));
      await page.check('#drop-duplicates');
      const train = Number(await page.getAttribute('[data-testid="data-prepared"]', 'data-train'));
      const inNode = prepareBrowserSiteData({ kind: 'examples', dataset: tabular.dataset }, { dropDuplicates: true, impute: true, classWeights: false }, 'shop-1');
      expect(train).toBe(inNode.splits.train.y.length);
      expect(train).toBeLessThan(keptAll);
      expect(await page.textContent('[data-testid="data-prepared"]')).toContain('(4 duplicates dropped)');
      expect(await page.textContent('[data-testid="summary-line"]')).toContain('56 examples, 5 features, 2 classes');
      // Class weights: the train split resampled to equal class shares, as in Node, same size.
      const unbalanced = JSON.parse((await page.getAttribute('[data-testid="data-prepared"]', 'data-train-classes'))!) as number[];
      expect(unbalanced).toEqual(classCounts(inNode.splits.train));
      expect(unbalanced[0]).toBeGreaterThan(unbalanced[1]! + 1);
      await page.check('#class-weights');
      const balanced = JSON.parse((await page.getAttribute('[data-testid="data-prepared"]', 'data-train-classes'))!) as number[];
      expect(balanced).toEqual([Math.ceil(train / 2), Math.floor(train / 2)]);
      expect(balanced).toEqual(classCounts(prepareBrowserSiteData({ kind: 'examples', dataset: tabular.dataset }, { dropDuplicates: true, impute: true, classWeights: true }, 'shop-1').splits.train));
      expect(Number(await page.getAttribute('[data-testid="data-prepared"]', 'data-train'))).toBe(train);
      await page.click('#join');
      const report: RunReport = await coordinator.done;
      await page.waitForSelector('body[data-phase="complete"]', { timeout: 60_000 });
      expect(report.status).toBe('complete');
      const accepted = report.rounds[0]!.accepted.find((a) => a.siteId === 'shop-1');
      // The coordinator counted what the panel's choices left to train on.
      expect(accepted?.numExamples).toBe(train);
      expect(await pageText(page)).not.toContain(CSV_MARKER);
      expect(await pageText(page)).not.toMatch(/\bred\b|\bgreen\b|\bblue\b/);
      expectNoMarker(sent, CSV_MARKER);
      await page.close();
    } finally {
      await coordinator.close();
    }
  }, 300_000);

  it('a text folder: the panel counts planted duplicate and empty texts and the imbalance; it joins the text model with duplicates dropped and trains one round', async () => {
    const text = readModelText(pretrainedSpamModelDir())!;
    const tokenizer = new TextTokenizer(vocabularyOfTextSection(text));
    const { holdout, pool } = builtinSpam();
    // 24 ham and 8 spam e-mails, the marker planted in one; 3 ham texts written twice (3 duplicates); one empty text.
    const ham = pool.texts.filter((_, i) => pool.labels[i] === 0).slice(0, 24);
    const spam = pool.texts.filter((_, i) => pool.labels[i] === 1).slice(0, 8);
    ham[5] = `${ham[5]} ${TEXT_MARKER}`;
    const root = join(tempDir('fedtune-browser-text-'), 'mail');
    for (const name of ['ham', 'spam']) mkdirSync(join(root, name), { recursive: true });
    ham.forEach((t, i) => writeFileSync(join(root, 'ham', `${String(i).padStart(2, '0')}.txt`), t));
    for (let i = 0; i < 3; i++) writeFileSync(join(root, 'ham', `copy-${i}.txt`), ham[i]!);
    spam.forEach((t, i) => writeFileSync(join(root, 'spam', `${String(i).padStart(2, '0')}.txt`), t));
    writeFileSync(join(root, 'spam', 'empty.txt'), '');
    writeFileSync(join(root, 'notes.md'), 'not a class');
    // What the data says (the page reads files in path order, as here).
    const texts: TextDataset = {
      texts: [...ham, ...[0, 1, 2].map((i) => ham[i]!), ...spam, ''].map((t) => t),
      labels: Int32Array.from([...ham.map(() => 0), 0, 0, 0, ...spam.map(() => 1), 1]),
      classNames: ['ham', 'spam'],
    };
    const order = [...ham.map((_, i) => `ham/${String(i).padStart(2, '0')}.txt`), ...[0, 1, 2].map((i) => `ham/copy-${i}.txt`), ...spam.map((_, i) => `spam/${String(i).padStart(2, '0')}.txt`), 'spam/empty.txt'];
    const sorted = order.map((p, i) => ({ p, i })).sort((a, b) => (a.p < b.p ? -1 : 1)).map((e) => e.i);
    const inPathOrder: TextDataset = { texts: sorted.map((i) => texts.texts[i]!), labels: Int32Array.from(sorted, (i) => texts.labels[i]!), classNames: texts.classNames };
    const expected = checkTextDataset(inPathOrder);
    expect(expected.duplicates.count).toBe(3);
    expect(expected.empty.count).toBe(1);
    expect(expected.labels.counts).toEqual([27, 9]);

    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedSpamModelDir()),
      architecture: 'text-cnn',
      text,
      holdout: head(tokenizer.toDataset(holdout), 100),
      backend,
      transport: 'socket',
      config: { runId: 'browser-text', rounds: 1, minSites: 1, federatedEvaluation: 'never', robustness: { when: 'never' }, joinTimeoutMs: 120_000, roundTimeoutMs: 300_000 },
    });
    try {
      const { page, sent } = await openSite(coordinator.url!, 'mailroom');
      await page.setInputFiles('#text-folder', root);
      await waitForPanel(page);
      expect(await panelCounts(page)).toMatchObject({ examples: '36', duplicates: '3', missing: '1', labels: '[27,9]', imbalance: '3.00' });
      expect(await page.locator('#data-check-lines li').allTextContents()).toEqual(formatTextDataCheck(expected).map((l) => l.trim()));
      // Imputing and class weights apply to numeric features: not offered for texts.
      expect(await page.isDisabled('#impute-missing')).toBe(true);
      expect(await page.isDisabled('#class-weights')).toBe(true);
      await page.locator('[data-testid="data-check"]').screenshot({ path: join(ARTIFACTS, 'browser-data-check-text.png') });
      await page.check('#drop-duplicates');
      const train = Number(await page.getAttribute('[data-testid="data-prepared"]', 'data-train'));
      const inNode = prepareBrowserSiteData({ kind: 'text', text: inPathOrder }, { dropDuplicates: true, impute: false, classWeights: false }, 'mailroom');
      expect(inNode.droppedDuplicates).toBe(3);
      expect(train).toBe(inNode.splits.train.y.length);
      expect(await page.textContent('[data-testid="summary-line"]')).toContain('33 texts');
      await page.click('#join');
      const report = await coordinator.done;
      await page.waitForSelector('body[data-phase="complete"]', { timeout: 120_000 });
      expect(report.status).toBe('complete');
      expect(report.rounds[0]!.accepted.find((a) => a.siteId === 'mailroom')?.numExamples).toBe(train);
      const shown = await pageText(page);
      expect(shown).not.toContain(TEXT_MARKER);
      expect(shown).not.toContain(ham[7]!.slice(0, 40));
      expectNoMarker(sent, TEXT_MARKER);
      await page.close();
    } finally {
      await coordinator.close();
    }
  }, 600_000);

  it('a Kaggle-style titanic CSV (quoted names with commas, ids, free text): "feature columns" keeps the five the model takes, in order, and the site trains a round of a 5-input model', async () => {
    const dir = tempDir('fedtune-browser-titanic-');
    const csvPath = join(dir, 'titanic.csv');
    const random = new SeededRandom(11);
    const rows = Array.from({ length: 40 }, (_, i) => {
      const survived = i % 3 === 0 ? 1 : 0;
      const age = i === 7 || i === 19 ? '' : String(Math.round(random.uniform(1, 70)));
      return [i + 1, survived, 1 + (i % 3), `"Surname${i}, Mr. Given ""Nick"" ${CSV_MARKER}"`, i % 2 ? 'male' : 'female', age, i % 4, i % 2, `A/${1000 + i}`, random.uniform(5, 80).toFixed(2), i % 5 ? '' : `C${i}`, 'S'].join(',');
    });
    writeFileSync(csvPath, `PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n${rows.join('\n')}\n`);
    const features = ['Age', 'SibSp', 'Parch', 'Fare', 'Pclass'];
    // What the data is in Node: the same shared code, the same five columns in this order.
    const expected = encodeTabularRows(parseCsvRows(readFileSync(csvPath, 'utf8')), { labelColumn: 'Survived', featureColumns: features, source: 'titanic.csv' });
    expect(expected.dataset.featureShape).toEqual([5]);
    const holdout: Dataset = { x: new Float32Array(40 * 5).fill(0.5), y: Int32Array.from({ length: 40 }, (_, i) => i % 2), featureShape: [5], numClasses: 2 };
    const coordinator = await oneRoundOfFiveFeatures('browser-titanic', holdout, 3);
    try {
      const { page, sent } = await openSite(coordinator.url!, 'titanic-1');
      await page.locator('details:has(#label-column) > summary').click(); // the Options
      await page.fill('#label-column', 'Survived');
      await page.setInputFiles('#csv-file', csvPath);
      await waitForPanel(page);
      // Every column but the label: the names, tickets and cabins one-hot, far more than 5 features.
      await page.check('#impute-missing');
      await page.waitForSelector('body[data-phase="loaded"]');
      const everyColumn = (await page.textContent('[data-testid="summary-line"]'))!;
      expect(everyColumn).not.toContain(' 5 features');
      await page.fill('#feature-columns', features.join(', '));
      await page.dispatchEvent('#feature-columns', 'change');
      await page.waitForFunction(() => document.querySelector('[data-testid="summary-line"]')?.textContent?.includes(' 5 features'));
      expect(await page.textContent('[data-testid="summary-line"]')).toContain('40 examples, 5 features, 2 classes');
      expect(await panelCounts(page)).toMatchObject({ examples: '40', missing: '2', labels: JSON.stringify(classCounts(expected.dataset)) });
      // A column that is not in the file: one line naming it, and no joining.
      await page.fill('#feature-columns', 'Age,Deck');
      await page.dispatchEvent('#feature-columns', 'change');
      await page.waitForSelector('[data-testid="data-error"]:not([hidden])');
      expect(await page.textContent('[data-testid="data-error"]')).toContain('Deck');
      expect(await page.isDisabled('#join')).toBe(true);
      await page.fill('#feature-columns', features.join(','));
      await page.dispatchEvent('#feature-columns', 'change');
      await page.waitForFunction(() => document.querySelector('[data-testid="summary-line"]')?.textContent?.includes(' 5 features') && !document.querySelector<HTMLButtonElement>('#join')?.disabled);
      const train = Number(await page.getAttribute('[data-testid="data-prepared"]', 'data-train'));
      await page.click('#join');
      const report: RunReport = await coordinator.done;
      await page.waitForSelector('body[data-phase="complete"]', { timeout: 60_000 });
      expect(report.status).toBe('complete');
      expect(report.rounds[0]!.accepted.find((a) => a.siteId === 'titanic-1')?.numExamples).toBe(train);
      expect(await pageText(page)).not.toContain(CSV_MARKER);
      expectNoMarker(sent, CSV_MARKER);
      await page.close();
    } finally {
      await coordinator.close();
    }
  }, 300_000);

  it.each([
    ['a text file that is not UTF-8', 'text-folder', 'cannot read mail/ham/bad.txt: not valid UTF-8 text'],
    ['a CSV row with a cell too many', 'csv-file', 'broken.csv: row 3 has 3 cells, the header has 2'],
  ])('a broken file (%s) is one line in the page naming it, and no joining', async (_, input, line) => {
    const dir = tempDir('fedtune-browser-broken-');
    let target = join(dir, 'broken.csv');
    if (input === 'text-folder') {
      target = join(dir, 'mail');
      mkdirSync(join(target, 'ham'), { recursive: true });
      writeFileSync(join(target, 'ham', 'ok.txt'), 'fine');
      writeFileSync(join(target, 'ham', 'bad.txt'), Buffer.from([0x48, 0xff, 0xfe, 0x69]));
    } else writeFileSync(target, 'label,a\n0,1\n1,2,3\n');
    const c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20 });
    const url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { page: site, sent } = await openSite(url, 'b-1');
      await site.setInputFiles(`#${input}`, target);
      await site.waitForSelector('[data-testid="data-error"]:not([hidden])');
      expect(await site.textContent('[data-testid="data-error"]')).toBe(line);
      expect(await site.getAttribute('body', 'data-phase')).toBe('idle');
      expect(await site.isDisabled('#join')).toBe(true);
      expect(await site.isHidden('[data-testid="data-check"]')).toBe(true);
      expect(sent.filter((s) => s.kind !== 'http')).toEqual([]);
      await site.close();
    } finally {
      await c.app.close();
    }
  });
});
