import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classFolders, decodeImage, readImageFolder } from '../../client-node/src/data/read-image-folder.ts';
import { thrown } from '../helpers/thrown.ts';
import { tempDir } from '../helpers/federation.ts';
import { imageFolder, jpg, png } from './image-files.ts';

// An image folder exactly (mutation module site-data): what is a class folder, the order examples are read in, a
// JPEG's colours (RGBA, not RGB), the size a header declares refused before decoding, the signature byte by byte,
// and the code of every refusal.
const size = { height: 2, width: 2, channels: 1 as const };

describe('classFolders and the reading order', () => {
  it('class folders are the sub-folders not starting with a dot; files beside them are none', () => {
    const dir = imageFolder({ 'b/x.png': png(2, 2, [0, 0, 0, 255]), 'a/x.png': png(2, 2, [0, 0, 0, 255]), '.cache/x.png': png(2, 2, [0, 0, 0, 255]), 'notes.png': png(2, 2, [0, 0, 0, 255]) });
    expect(classFolders(dir)).toEqual(['a', 'b']);
    expect(readImageFolder(dir, size).classNames).toEqual(['a', 'b']);
  });

  it('a folder that cannot be read: code data, naming it, the system\'s error as the cause', () => {
    const missing = join(tempDir(), 'none');
    const err = thrown(() => classFolders(missing));
    expect(err.code).toBe('data');
    expect(err.message).toMatch(new RegExp(`^cannot read ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`));
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('files are read in sorted name order, whatever order the directory lists them in', () => {
    const names = ['m.png', 'c.png', 'x.png', 'a.png', 'q.png'];
    const files = Object.fromEntries(names.map((n, i) => [`k/${n}`, png(1, 1, [i * 50, i * 50, i * 50, 255])]));
    const { dataset } = readImageFolder(imageFolder(files), { height: 1, width: 1, channels: 1 });
    const order = [...names].sort().map((n) => names.indexOf(n) * 50 / 255);
    Array.from(dataset.x).forEach((v, i) => expect(v).toBeCloseTo(order[i], 5));
  });
});

describe('decodeImage', () => {
  it('a JPEG\'s colours come out as RGBA pixels', () => {
    const image = decodeImage(jpg(4, 4, [200, 40, 10]));
    expect(image.data).toHaveLength(4 * 4 * 4);
    expect(image.data[0]).toBeGreaterThan(180);
    expect(image.data[1]).toBeLessThan(70);
    expect(image.data[3]).toBe(255);
  });

  it('a PNG header declaring more pixels than the limit is refused before decoding', () => {
    const header = Buffer.from(png(1, 1, [0, 0, 0, 255]));
    header.writeUInt32BE(10_000, 16);
    header.writeUInt32BE(10_000, 20);
    expect(() => decodeImage(header)).toThrow('10000×10000 pixels is more than 50000000');
    const dir = imageFolder({ 'a/huge.png': header });
    const err = thrown(() => readImageFolder(dir, size));
    expect(err.code).toBe('data');
    expect(err.message).toBe(`cannot decode ${join(dir, 'a', 'huge.png')}: 10000×10000 pixels is more than 50000000 (--skip-bad-files skips such files)`);
  });

  it.each([
    ['FF D8 without the third byte', [0xff, 0xd8]],
    ['FF D8 then not FF', [0xff, 0xd8, 0x00, 0x00]],
    ['not FF, then D8 FF', [0x00, 0xd8, 0xff, 0x00]],
    ['FF, not D8, FF', [0xff, 0x00, 0xff, 0x00]],
    ['seven bytes of a PNG signature', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a]],
  ])('%s is neither a PNG nor a JPEG', (_n, bytes) => {
    expect(() => decodeImage(Buffer.from(bytes))).toThrow(/^not a PNG or JPEG file$/);
  });

  it('a folder of class folders without one image: code data', () => {
    const dir = imageFolder({ 'a/readme.txt': 'x' });
    const err = thrown(() => readImageFolder(dir, size));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'data', message: `${dir}: no PNG or JPEG images in its class folders` });
    const empty = tempDir();
    expect(thrown(() => readImageFolder(empty, size)).code).toBe('data');
  });
});
