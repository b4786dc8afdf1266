import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { tempDir } from '../helpers/federation.ts';

/** A solid-colour PNG (RGBA). */
export function png(width: number, height: number, rgba: [number, number, number, number]): Buffer {
  const image = new pngjs.PNG({ width, height });
  for (let i = 0; i < width * height; i++) image.data.set(rgba, 4 * i);
  return pngjs.PNG.sync.write(image);
}

/** A solid-colour JPEG (quality 100). */
export function jpg(width: number, height: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([...rgb, 255], 4 * i);
  return jpeg.encode({ data, width, height }, 100).data;
}

/** A new directory holding `files` (relative path → bytes or text), sub-folders made as needed. */
export function imageFolder(files: Record<string, Buffer | string>): string {
  const dir = tempDir();
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return dir;
}
