import { describe, expect, it } from 'vitest';
import { classCounts, deriveSeed, FedtuneError, MAX_TEXT_FILE_BYTES, pixelCsvWarning, splitDataset, splitTextDataset, type Dataset, type TextDataset } from '@fedtune/shared';
import { checkBrowserSiteData, loadCsvFile, loadTextCsv, loadTextFolder, prepareBrowserSiteData, siteDataOptionsOf, splitSiteData, type BrowserDataChoices } from '@fedtune/client-web';

// The browser site's data path, run under Node with real File objects: the same shared loaders, check and
// preparation as `fedtune client`, and each checkbox's effect on what the site trains on.

const NONE: BrowserDataChoices = { dropDuplicates: false, impute: false, classWeights: false };
const SITE = 'browser-7';

/** A File as picked with webkitdirectory (`root/label/name`). */
function picked(path: string, content: string | Uint8Array<ArrayBuffer>): File {
  const file = new File([content], path.split('/').pop()!);
  Object.defineProperty(file, 'webkitRelativePath', { value: path });
  return file;
}

/** 40 examples of 2 features: 30 of class 0, 10 of class 1; examples 36..39 repeat 0..3; examples 5 and 6 miss feature 1. */
function planted(withMissing = false): Dataset {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 40; i++) {
    const k = i >= 36 ? i - 36 : i;
    x.push(k / 10, withMissing && (i === 5 || i === 6) ? NaN : k / 20 + 1);
    y.push(k < 10 ? 1 : 0);
  }
  // 4 duplicates of examples 0..3, all class 1: 14 of class 1, 26 of class 0.
  return { x: Float32Array.from(x), y: Int32Array.from(y), featureShape: [2], numClasses: 2 };
}

function total(splits: { train: Dataset; validation: Dataset; test: Dataset }): number {
  return splits.train.y.length + splits.validation.y.length + splits.test.y.length;
}

describe('the browser site prepares its data as `fedtune client` does', () => {
  it('with no box ticked: the seeded split splitSiteData makes, nothing dropped or resampled', () => {
    const data = planted();
    const prepared = prepareBrowserSiteData({ kind: 'examples', dataset: data }, NONE, SITE);
    expect(prepared.droppedDuplicates).toBe(0);
    expect(prepared.textData).toBeUndefined();
    expect(prepared.splits).toEqual(splitSiteData(data, SITE));
    expect(prepared.splits).toEqual(splitDataset(data, deriveSeed(0, 'split', SITE)));
  });

  it.each([
    ['drop duplicates', { ...NONE, dropDuplicates: true }, { dropDuplicates: true, impute: 'none', classWeights: 'none' }],
    ['impute missing', { ...NONE, impute: true }, { dropDuplicates: false, impute: 'mean', classWeights: 'none' }],
    ['class weights', { ...NONE, classWeights: true }, { dropDuplicates: false, impute: 'none', classWeights: 'balanced' }],
    ['none', NONE, { dropDuplicates: false, impute: 'none', classWeights: 'none' }],
  ])('the box "%s" is the Node client\'s data option', (_, choices, options) => {
    expect(siteDataOptionsOf(choices)).toMatchObject(options);
  });

  it('drop duplicates: the planted 4 copies leave before the split (36 examples, 10 of class 1)', () => {
    const prepared = prepareBrowserSiteData({ kind: 'examples', dataset: planted() }, { ...NONE, dropDuplicates: true }, SITE);
    expect(prepared.droppedDuplicates).toBe(4);
    expect(total(prepared.splits)).toBe(36);
    const all = [prepared.splits.train, prepared.splits.validation, prepared.splits.test].map(classCounts);
    expect(all.reduce((a, c) => [a[0]! + c[0]!, a[1]! + c[1]!], [0, 0])).toEqual([26, 10]);
    expect(total(prepareBrowserSiteData({ kind: 'examples', dataset: planted() }, NONE, SITE).splits)).toBe(40);
  });

  it('missing values refuse to join unless imputed; imputed with the train split\'s mean, in every split', () => {
    const data = planted(true);
    const refused = (() => {
      try {
        prepareBrowserSiteData({ kind: 'examples', dataset: data }, NONE, SITE);
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(FedtuneError);
    expect((refused as FedtuneError).code).toBe('data');
    expect((refused as FedtuneError).message).toBe('the data has 2 missing values: tick "impute missing values", or fix the file');
    const prepared = prepareBrowserSiteData({ kind: 'examples', dataset: data }, { ...NONE, impute: true }, SITE);
    for (const s of [prepared.splits.train, prepared.splits.validation, prepared.splits.test]) expect(s.x.some(Number.isNaN)).toBe(false);
    const raw = splitSiteData(data, SITE).train;
    const present = Array.from({ length: raw.y.length }, (_, i) => raw.x[2 * i + 1]!).filter((v) => !Number.isNaN(v));
    const mean = present.reduce((a, b) => a + b, 0) / present.length;
    const filled = Array.from({ length: raw.y.length }, (_, i) => i).filter((i) => Number.isNaN(raw.x[2 * i + 1]!));
    expect(filled.length).toBeGreaterThan(0);
    for (const i of filled) expect(prepared.splits.train.x[2 * i + 1]).toBeCloseTo(mean, 5);
  });

  it('class weights: the train split resampled to equal class shares, same size; validation and test untouched', () => {
    const plain = prepareBrowserSiteData({ kind: 'examples', dataset: planted() }, NONE, SITE).splits;
    const balanced = prepareBrowserSiteData({ kind: 'examples', dataset: planted() }, { ...NONE, classWeights: true }, SITE).splits;
    const n = plain.train.y.length;
    expect(classCounts(plain.train)[0]).toBeGreaterThan(classCounts(plain.train)[1]!);
    expect(classCounts(balanced.train)).toEqual([Math.ceil(n / 2), Math.floor(n / 2)]);
    expect(balanced.validation).toEqual(plain.validation);
    expect(balanced.test).toEqual(plain.test);
  });

  const texts: TextDataset = { texts: ['a b', 'c d', 'a b', 'e f', 'g h', 'i j', 'k l', 'm n', 'o p', 'q r'], labels: Int32Array.from([0, 1, 0, 0, 1, 0, 1, 0, 1, 0]), classNames: ['ham', 'spam'] };

  it('texts: split as splitTextDataset does with the site seed, labels only until the model brings a vocabulary; duplicates dropped if asked', () => {
    const plain = prepareBrowserSiteData({ kind: 'text', text: texts }, NONE, SITE);
    expect(plain.textData).toEqual(splitTextDataset(texts, deriveSeed(0, 'split', SITE)));
    expect(plain.splits.train.featureShape).toEqual([0]);
    expect(plain.splits.train.y).toEqual(plain.textData!.train.labels);
    const dropped = prepareBrowserSiteData({ kind: 'text', text: texts }, { ...NONE, dropDuplicates: true }, SITE);
    expect(dropped.droppedDuplicates).toBe(1);
    expect(total(dropped.splits)).toBe(9);
  });

  it.each([
    ['impute', { ...NONE, impute: true }],
    ['class weights', { ...NONE, classWeights: true }],
  ])('texts: %s is refused with one line (numeric features only)', (_, choices) => {
    expect(() => prepareBrowserSiteData({ kind: 'text', text: texts }, choices, SITE)).toThrow('imputing and class weights apply to numeric features, not to texts');
  });

  it('the data check: the shared report and lines, images against their [0, 1] range', () => {
    const check = checkBrowserSiteData({ kind: 'examples', dataset: planted(), expectedRange: [0, 1] });
    expect(check.kind).toBe('examples');
    expect(check.report.duplicates.count).toBe(4);
    expect(check.lines[0]).toBe('data check: 40 examples, 2 features per example (shape [2])');
    expect(check.lines.some((l) => l.startsWith("  outside the model's input range [0, 1]: 63 values in 38 examples"))).toBe(true);
    expect(checkBrowserSiteData({ kind: 'examples', dataset: planted() }).lines.some((l) => l.includes("model's input range"))).toBe(false);
    const text = checkBrowserSiteData({ kind: 'text', text: texts });
    expect(text.kind).toBe('text');
    expect(text.lines[0]).toBe('data check: 10 texts');
    expect(text.report.duplicates).toEqual({ count: 1, indices: [2] });
  });

  // Before 2026-12-07 only the Node client warned about a CSV of raw 0–255 pixels; the browser site said nothing.
  it.each<[string, () => Promise<{ dataset: Dataset; expectedRange?: [number, number] }>, boolean]>([
    ['a CSV of 8×8 raw pixels up to 255', async () => loadCsvFile(new File([pixelCsv(255)], 'pixels.csv'), { labelColumn: 'label' }), true],
    ['a CSV of 8×8 pixels scaled to [0, 1]', async () => loadCsvFile(new File([pixelCsv(1)], 'pixels.csv'), { labelColumn: 'label' }), false],
    ['data with an image folder\'s range [0, 1] (checked against it instead)', async () => ({ ...(await loadCsvFile(new File([pixelCsv(255)], 'pixels.csv'), { labelColumn: 'label' })), expectedRange: [0, 1] }), false],
  ])('the raw-pixel CSV warning of the Node client: %s', async (_name, load, warns) => {
    const loaded = await load();
    const lines = checkBrowserSiteData({ kind: 'examples', dataset: loaded.dataset, ...(loaded.expectedRange ? { expectedRange: loaded.expectedRange } : {}) }).lines;
    const warning = pixelCsvWarning(loaded.dataset);
    expect(lines.filter((l) => l.startsWith('warning: all 64 features are integers in 0–255'))).toEqual(warns ? [warning] : []);
  });
});

/** A CSV of 4 examples of 64 integer features in 0..max (8×8 images), labels 0/1. */
function pixelCsv(max: number): string {
  const rows = Array.from({ length: 4 }, (_, r) => `${r % 2},${Array.from({ length: 64 }, (_, i) => (i * 7 + r) % (max + 1)).join(',')}`);
  return `label,${Array.from({ length: 64 }, (_, i) => `p${i}`).join(',')}\n${rows.join('\n')}\n`;
}

describe('the browser site reads files with the shared loaders', () => {
  it('a CSV with a categorical column: one-hot like the Node client; classes at least the field\'s', async () => {
    const csv = 'label,colour,x\n1,red,0.5\n0,blue,0.25\n0,green,\n1,red,0.75\n';
    const t = await loadCsvFile(new File([csv], 'shop.csv'), { labelColumn: 'label', numClasses: 10 });
    expect(t.schema).toEqual({ columns: [{ name: 'colour', kind: 'categorical', width: 3, missing: 0 }, { name: 'x', kind: 'numeric', width: 1, missing: 1 }], features: 4 });
    expect(Array.from(t.dataset.x.slice(0, 8))).toEqual([0, 0, 1, 0.5, 1, 0, 0, 0.25]);
    expect(Number.isNaN(t.dataset.x[11])).toBe(true);
    expect(t.dataset.numClasses).toBe(10);
    expect((await loadCsvFile(new File([csv], 'shop.csv'), { numClasses: 1 })).dataset.numClasses).toBe(2);
    // --categorical forces a numeric column to one-hot.
    const forced = await loadCsvFile(new File(['label,zip\n0,10\n1,20\n0,10\n'], 'zip.csv'), { categorical: ['zip'] });
    expect(forced.schema.columns[0]).toEqual({ name: 'zip', kind: 'categorical', width: 2, missing: 0 });
  });

  it.each([
    ['a row with a cell too many', 'label,a\n0,1\n1,2,3\n', 'bad.csv: row 3 has 3 cells, the header has 2'],
    ['no label column', 'y,a\n0,1\n', 'bad.csv: no "label" column in the header'],
    ['an unclosed quote', 'label,a\n0,"1\n', 'bad.csv: a quoted cell opened before line 3 is never closed'],
  ])('a broken CSV (%s) is one line naming the file', async (_, csv, message) => {
    await expect(loadCsvFile(new File([csv], 'bad.csv'))).rejects.toThrow(message);
  });

  it('a text folder: one class per sub-folder (sorted names), .txt files only, in path order', async () => {
    const files = [picked('mail/spam/2.txt', 'win'), picked('mail/ham/b.txt', 'lunch'), picked('mail/ham/a.txt', 'hello'), picked('mail/ham/notes.md', 'x'), picked('mail/top.txt', 'no class'), picked('mail/ham/deep/c.txt', 'nested')];
    const { text, skipped } = await loadTextFolder(files);
    expect(text).toEqual({ texts: ['hello', 'lunch', 'win'], labels: Int32Array.from([0, 0, 1]), classNames: ['ham', 'spam'] });
    expect(skipped).toBe(3);
  });

  it.each([
    ['not UTF-8', Uint8Array.from([0x48, 0xff, 0xfe]), 'cannot read mail/ham/bad.txt: not valid UTF-8 text'],
    ['too large', new Uint8Array(MAX_TEXT_FILE_BYTES + 1).fill(0x61), `cannot read mail/ham/bad.txt: larger than ${MAX_TEXT_FILE_BYTES} bytes`],
  ])('a bad text file (%s) is one line naming it', async (_, bytes, message) => {
    await expect(loadTextFolder([picked('mail/ham/ok.txt', 'fine'), picked('mail/ham/bad.txt', bytes)])).rejects.toThrow(message);
  });

  it('a text folder of 65,537 class folders is one clear line before any file is read (as the Node site says it)', async () => {
    const files = Array.from({ length: 65_537 }, (_, k) => picked(`mail/c${k}/a.txt`, 'x'));
    await expect(loadTextFolder(files)).rejects.toThrow('the picked folder: 65537 class folders: at most 65536 classes are supported');
    // At the limit: read.
    expect((await loadTextFolder(files.slice(0, 65_536))).text.classNames).toHaveLength(65_536);
  }, 60_000);

  it('a folder without .txt files in class folders is one clear line', async () => {
    await expect(loadTextFolder([picked('mail/a.png', 'x')])).rejects.toThrow('no .txt files found: pick a folder with one sub-folder of .txt files per class');
  });

  it('a CSV text column: texts and named labels', async () => {
    const text = await loadTextCsv(new File(['id,message,label\n1,"hi, there",ham\n2,win now,spam\n'], 'msgs.csv'), { textColumn: 'message', labelColumn: 'label' });
    expect(text).toEqual({ texts: ['hi, there', 'win now'], labels: Int32Array.from([0, 1]), classNames: ['ham', 'spam'] });
    await expect(loadTextCsv(new File(['a,label\nx,0\n'], 'msgs.csv'), { textColumn: 'message', labelColumn: 'label' })).rejects.toThrow('msgs.csv: no "message" column in the header');
  });
});

describe('the page\'s CSV errors name its fields, not the CLI\'s flags', () => {
  const csv = new File(['label,a,b\n0,1,2\n1,4,5\n'], 'site.csv');
  it.each<[string, Parameters<typeof loadCsvFile>[1], RegExp]>([
    ['a feature column named twice', { featureColumns: ['a', 'a'] }, /^the "feature columns" field names "a" twice/],
    ['a categorical column the feature columns leave out', { featureColumns: ['a'], categorical: ['b'] }, /the "categorical columns" field names "b", which the "feature columns" field leaves out/],
    ['a label column the file does not have', { labelColumn: 'y' }, /the "Label column" field names another/],
  ])('%s', async (_, options, message) => {
    const error = await loadCsvFile(csv, options).catch((e: Error) => e);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/--/);
  });
  it('a text CSV too', async () => {
    const error = await loadTextCsv(new File(['label,msg\n0,hi\n'], 'texts.csv'), { textColumn: 'body', labelColumn: 'label' }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/named by the "text column" field/);
  });
});
