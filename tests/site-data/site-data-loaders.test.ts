import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImageFolder, readSiteData, readTextFolder } from '@fedtune/client-node';
import { encodeTabularRows, FedtuneError, parseCsvRows, rgbaToInput, textFromCsvRows } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { imageFolder, jpg, png } from './image-files.ts';

describe('image folders', () => {
  it('PNG and JPEG, classes in sorted folder order, resized to H×W, in [0, 1], grayscale or RGB', () => {
    const dir = imageFolder({ 'zebra/a.png': png(6, 4, [255, 255, 255, 255]), 'ant/b.jpg': jpg(8, 8, [0, 0, 0]), 'ant/c.PNG': png(3, 3, [255, 0, 0, 255]), 'ant/notes.md': 'x' });
    const gray = readImageFolder(dir, { height: 5, width: 7, channels: 1 });
    expect(gray.classNames).toEqual(['ant', 'zebra']);
    expect(Array.from(gray.dataset.y)).toEqual([0, 0, 1]);
    expect(gray.dataset.featureShape).toEqual([5, 7, 1]);
    expect(gray.ignored).toBe(1);
    const at = (k: number, f: number) => gray.dataset.x[k * 35 + f];
    expect(at(0, 0)).toBeCloseTo(0, 2); // black JPEG
    expect(at(1, 17)).toBeCloseTo(0.299, 5); // red PNG → BT.601 luma
    expect(at(2, 34)).toBeCloseTo(1, 5); // white PNG
    const rgb = readImageFolder(dir, { height: 2, width: 2, channels: 3 });
    expect(rgb.dataset.featureShape).toEqual([2, 2, 3]);
    expect(Array.from(rgb.dataset.x.subarray(12, 15))).toEqual([1, 0, 0]);
  });
  it('bilinear resize with half-pixel centres: 2×2 → 1×1 is the mean, 2×2 → 4×4 keeps the corners and interpolates', () => {
    const data = Uint8Array.from([0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
    expect(Array.from(rgbaToInput({ width: 2, height: 2, data }, 1, 1, 1))).toEqual([Math.fround(0.5)]);
    const up = rgbaToInput({ width: 2, height: 2, data }, 4, 4, 3);
    expect(up[0]).toBe(0);
    expect(up[(0 * 4 + 3) * 3]).toBe(1);
    // Row 0, column 1: x = 0.25 between black (0) and white (1) → 0.25.
    expect(up[(0 * 4 + 1) * 3]).toBeCloseTo(0.25, 6);
    // Transparent pixels are composed over black.
    const clear = Uint8Array.from([255, 255, 255, 0]);
    expect(Array.from(rgbaToInput({ width: 1, height: 1, data: clear }, 1, 1, 1))).toEqual([0]);
  });
  it('a corrupt PNG is one clear error naming the file; --skip-bad-files skips and names it', () => {
    const dir = imageFolder({ 'cat/ok.png': png(2, 2, [1, 2, 3, 255]), 'cat/broken.png': Buffer.from('\x89PNG\r\n\x1a\n garbage'), 'dog/ok.jpeg': jpg(2, 2, [9, 9, 9]) });
    let error: unknown;
    try {
      readImageFolder(dir, { height: 2, width: 2, channels: 1 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FedtuneError);
    expect((error as FedtuneError).code).toBe('data');
    expect((error as Error).message).toContain(join(dir, 'cat', 'broken.png'));
    expect((error as Error).message).not.toContain('\n');
    const skipping = readImageFolder(dir, { height: 2, width: 2, channels: 1, skipBadFiles: true });
    expect(skipping.dataset.y.length).toBe(2);
    expect(skipping.skipped.map((s) => s.file)).toEqual([join(dir, 'cat', 'broken.png')]);
    const loaded = readSiteData(dir, { skipBadFiles: true, image: { height: 3, width: 3 } });
    expect(loaded.notes.join('\n')).toMatch(/skipped 1 bad file: .*broken\.png/);
    expect(loaded.dataset!.featureShape).toEqual([3, 3, 1]);
    expect(loaded.expectedRange).toEqual([0, 1]);
  });
  it('a file named .png that is not an image, and an empty folder, are clear errors', () => {
    expect(() => readImageFolder(imageFolder({ 'a/x.png': 'hello' }), { height: 2, width: 2, channels: 1 })).toThrow(/cannot decode .*x\.png: not a PNG or JPEG file/);
    expect(() => readImageFolder(tempDir(), { height: 2, width: 2, channels: 1 })).toThrow(/no class folders/);
    expect(() => readImageFolder(imageFolder({ 'a/x.txt.md': 'x' }), { height: 2, width: 2, channels: 1 })).toThrow(/no PNG or JPEG images/);
  });
});

describe('CSV with categorical columns', () => {
  const csv = [
    'label,colour,size,zip',
    '0,red,1.5,100',
    '1,blue,2.5,200',
    '0,green,,100',
    '1,red,4,NA',
  ].join('\n');
  it('non-numeric columns one-hot over the sorted categories; missing cells are NaN; the schema has counts only', () => {
    const t = encodeTabularRows(parseCsvRows(csv), { labelColumn: 'label' });
    expect(t.schema).toEqual({
      columns: [
        { name: 'colour', kind: 'categorical', width: 3, missing: 0 },
        { name: 'size', kind: 'numeric', width: 1, missing: 1 },
        { name: 'zip', kind: 'numeric', width: 1, missing: 1 },
      ],
      features: 5,
    });
    // blue, green, red | size | zip
    expect(Array.from(t.dataset.x)).toEqual([0, 0, 1, 1.5, 100, 1, 0, 0, 2.5, 200, 0, 1, 0, NaN, 100, 0, 0, 1, 4, NaN]);
    expect(Array.from(t.dataset.y)).toEqual([0, 1, 0, 1]);
    expect(JSON.stringify(t.schema)).not.toMatch(/red|blue|green|100|200/);
  });
  it('--categorical forces a numeric-looking column to one-hot; a missing category is NaN in all its features', () => {
    const t = encodeTabularRows(parseCsvRows(csv), { labelColumn: 'label', categorical: ['zip'] });
    expect(t.schema.columns[2]).toEqual({ name: 'zip', kind: 'categorical', width: 2, missing: 1 });
    // colour (blue, green, red) | size | zip (100, 200)
    expect(Array.from(t.dataset.x.subarray(12, 24))).toEqual([0, 1, 0, NaN, 1, 0, 0, 0, 1, 4, NaN, NaN]);
  });
  it.each([
    ['an unknown --categorical column', { categorical: ['nope'] }, /no "nope" column in the header \(named by --categorical\)/],
    ['the label column as categorical', { categorical: ['label'] }, /--categorical names the label column/],
    ['a missing label column', { labelColumn: 'y' }, /no "y" column in the header/],
  ])('%s is a clear error', (_name, options, message) => {
    expect(() => encodeTabularRows(parseCsvRows(csv), { labelColumn: 'label', ...options })).toThrow(message);
  });
  it('named labels become classes in sorted order; a row without a label is named', () => {
    const t = encodeTabularRows(parseCsvRows('label,a\nspam,1\nham,2\nspam,3'), { labelColumn: 'label' });
    expect(t.classNames).toEqual(['ham', 'spam']);
    expect(Array.from(t.dataset.y)).toEqual([1, 0, 1]);
    expect(() => encodeTabularRows(parseCsvRows('label,a\n0,1\n ,2'), { labelColumn: 'label', source: 'f.csv' })).toThrow('f.csv: row 3 has no label');
    expect(() => encodeTabularRows(parseCsvRows('label,a\n0,1,2'), { labelColumn: 'label', source: 'f.csv' })).toThrow('f.csv: row 2 has 3 cells, the header has 2');
  });
  it('parseCsvRows: quoted cells with commas, quotes and line breaks; CRLF; blank lines', () => {
    expect(parseCsvRows('a,b\r\n"x, y","say ""hi"""\r\n\r\n"two\nlines",3')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['two\nlines', '3'],
    ]);
    expect(() => parseCsvRows('a\n"open', 'f.csv')).toThrow(/f\.csv: a quoted cell opened before line 2 is never closed/);
  });
  it('readSiteData: a numeric CSV streams as before; a categorical one falls back to one-hot and says so', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'num.csv'), 'label,a,b\n0,1,2\n1,3,4\n');
    writeFileSync(join(dir, 'cat.csv'), `${csv}\n`);
    const num = readSiteData(join(dir, 'num.csv'));
    expect(num.schema).toBeUndefined();
    expect(Array.from(num.dataset!.x)).toEqual([1, 2, 3, 4]);
    const cat = readSiteData(join(dir, 'cat.csv'));
    expect(cat.schema!.features).toBe(5);
    expect(cat.notes).toContain('columns: 3 → 5 features; one-hot: colour (3 categories)');
    expect(readSiteData(join(dir, 'num.csv'), { categorical: ['a'] }).schema!.features).toBe(3);
  });
});

describe('text data', () => {
  it('a folder of .txt files per class', () => {
    const dir = imageFolder({ 'spam/1.txt': 'win money now', 'ham/1.txt': 'lunch at noon?', 'ham/2.txt': 'minutes attached' });
    const { data } = readTextFolder(dir);
    expect(data).toEqual({ texts: ['lunch at noon?', 'minutes attached', 'win money now'], labels: Int32Array.from([0, 0, 1]), classNames: ['ham', 'spam'] });
    expect(readSiteData(dir).kind).toBe('text');
    writeFileSync(join(dir, 'ham', 'bad.txt'), Buffer.from([0xff, 0xfe, 0x00]));
    expect(() => readTextFolder(dir)).toThrow(new RegExp(`cannot read ${join(dir, 'ham', 'bad.txt')}`));
    expect(readTextFolder(dir, { skipBadFiles: true }).skipped).toHaveLength(1);
  });
  it('a CSV text column (--text-column)', () => {
    const rows = parseCsvRows('label,body\nspam,"win, now"\nham,hello');
    expect(textFromCsvRows(rows, { textColumn: 'body', labelColumn: 'label' })).toEqual({ texts: ['win, now', 'hello'], labels: Int32Array.from([1, 0]), classNames: ['ham', 'spam'] });
    expect(() => textFromCsvRows(rows, { textColumn: 'text', labelColumn: 'label' })).toThrow(/no "text" column in the header \(named by --text-column\)/);
  });
});
