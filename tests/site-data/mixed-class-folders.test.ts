import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSiteData, readTextFolder } from '@fedtune/client-node';
import { imageFolder, png } from './image-files.ts';
import { thrown } from '../helpers/thrown.ts';

describe('a class folder tree mixing images and texts', () => {
  it('images in one class folder, a .txt in another: refused in one line naming a file of each kind', () => {
    const dir = imageFolder({ '0/a.png': png(28, 28, [255, 255, 255, 255]), '1/b.txt': 'hello' });
    const error = thrown(() => readSiteData(dir));
    expect(error.code).toBe('data');
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(join(dir, '0', 'a.png'));
    expect(error.message).toContain(join(dir, '1', 'b.txt'));
  });
  it('a corrupt PNG next to a .txt is not dropped: the folder is refused, naming the PNG', () => {
    const dir = imageFolder({ 'cat/1.png': Buffer.from('\x89PNG\r\n\x1a\n garbage'), 'dog/x.txt': 'woof' });
    const error = thrown(() => readSiteData(dir, { skipBadFiles: true }));
    expect(error.code).toBe('data');
    expect(error.message).toContain(join(dir, 'cat', '1.png'));
  });
  it('a text folder counts and reports the files it ignores', () => {
    const dir = imageFolder({ 'ham/1.txt': 'lunch', 'ham/notes.md': 'x', 'spam/1.txt': 'win', 'spam/readme': 'y' });
    expect(readTextFolder(dir).ignored).toBe(2);
    const loaded = readSiteData(dir);
    expect(loaded.kind).toBe('text');
    expect(loaded.notes).toContain('ignored 2 files that are not .txt');
  });
});
