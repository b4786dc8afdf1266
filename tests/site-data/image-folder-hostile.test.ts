import { execFileSync } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, readImageFolder } from '../../client-node/src/data/read-image-folder.ts';
import { thrown } from '../helpers/thrown.ts';
import { imageFolder, jpg, png } from './image-files.ts';

// An image folder someone else filled (mutation module site-data): links to nothing or to themselves, signatures
// with nothing after them, and a JPEG whose later frame header declares more pixels than the first.
const size = { height: 1, width: 1, channels: 1 as const };

describe('files that cannot be read', () => {
  it('a link to nothing and a loop of links: refused naming the file (code data), or skipped with why', () => {
    const dir = imageFolder({ 'a/good.png': png(1, 1, [255, 255, 255, 255]) });
    symlinkSync(join(dir, 'nowhere.png'), join(dir, 'a', 'dangling.png'));
    symlinkSync('loop.png', join(dir, 'a', 'loop.png'));
    const dangling = join(dir, 'a', 'dangling.png');
    const loop = join(dir, 'a', 'loop.png');
    const err = thrown(() => readImageFolder(dir, size));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'data', message: `cannot decode ${dangling}: ENOENT: no such file or directory, stat '${dangling}' (--skip-bad-files skips such files)` });
    const read = readImageFolder(dir, { ...size, skipBadFiles: true });
    expect(read.skipped).toEqual([
      { file: dangling, reason: `ENOENT: no such file or directory, stat '${dangling}'` },
      { file: loop, reason: `ELOOP: too many symbolic links encountered, stat '${loop}'` },
    ]);
    expect(Array.from(read.dataset.x)).toEqual([1]);
    expect(read.ignored).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('files that are not files', () => {
  it('a folder and a named pipe called *.png are ignored and counted, never read (a pipe would block the read)', () => {
    const dir = imageFolder({ 'a/good.png': png(1, 1, [255, 255, 255, 255]), 'a/folder.png/x.txt': 'x' });
    execFileSync('mkfifo', [join(dir, 'a', 'pipe.png')]);
    const read = readImageFolder(dir, size);
    expect({ x: Array.from(read.dataset.x), ignored: read.ignored, skipped: read.skipped }).toEqual({ x: [1], ignored: 2, skipped: [] });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('decodeImage: a signature and nothing after it goes to its decoder', () => {
  it('the 8 bytes of a PNG signature alone: the PNG decoder\'s refusal', () => {
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(() => decodeImage(signature)).toThrow(Error);
    expect(() => decodeImage(signature)).not.toThrow('not a PNG or JPEG file');
  });

  it('the 3 bytes of a JPEG signature alone: the JPEG decoder\'s refusal', () => {
    const signature = Buffer.from([0xff, 0xd8, 0xff]);
    expect(() => decodeImage(signature)).toThrow(Error);
    expect(() => decodeImage(signature)).not.toThrow('not a PNG or JPEG file');
  });

  it('pixels come out as a plain Uint8Array from either decoder, as the browser\'s decoder gives them', () => {
    for (const bytes of [png(2, 1, [1, 2, 3, 255]), jpg(2, 1, [1, 2, 3])]) {
      const image = decodeImage(bytes);
      expect(Object.getPrototypeOf(image.data)).toBe(Uint8Array.prototype);
      expect({ width: image.width, height: image.height, length: image.data.length }).toEqual({ width: 2, height: 1, length: 8 });
    }
  });

  it('a JPEG whose second frame header declares 8000×8000 (the first 2×2): the decoder\'s own limit refuses it', () => {
    const bytes = jpg(2, 2, [10, 20, 30]);
    let sof = 2;
    while (!(bytes[sof] === 0xff && bytes[sof + 1] === 0xc0)) sof += 2 + bytes.readUInt16BE(sof + 2);
    const length = 2 + bytes.readUInt16BE(sof + 2);
    const second = Buffer.from(bytes.subarray(sof, sof + length));
    second.writeUInt16BE(8000, 5);
    second.writeUInt16BE(8000, 7);
    const crafted = Buffer.concat([bytes.subarray(0, sof + length), second, bytes.subarray(sof + length)]);
    expect(() => decodeImage(crafted)).toThrow('maxResolutionInMP limit exceeded by 14MP');
  });
});
