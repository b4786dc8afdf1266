import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { checkClassCount, clipText, type Dataset, FedtuneError, imageHeaderSize, imageTooLarge, MAX_IMAGE_PIXELS, type RgbaImage, rgbaToInput, sortClassNames } from '@fedtune/shared';

/** The names an image folder reads (PNG and JPEG, by extension). */
export const IMAGE_FILE = /\.(png|jpe?g)$/i;

export interface ImageFolderOptions {
  height: number;
  width: number;
  channels: 1 | 3;
  /** Skip files that cannot be decoded (listed in `skipped`) instead of failing on the first. */
  skipBadFiles?: boolean;
}

export interface ImageFolderData {
  dataset: Dataset;
  /** Class index → sub-folder name (sorted). */
  classNames: string[];
  /** Files that could not be decoded, with why (with skipBadFiles). */
  skipped: Array<{ file: string; reason: string }>;
  /** Files in the class folders that are not PNG or JPEG (ignored). */
  ignored: number;
}

/** Throws when an image's declared width × height is larger than MAX_IMAGE_PIXELS. */
function refuseTooLarge(size: { width: number; height: number } | undefined): void {
  const reason = imageTooLarge(size);
  if (reason) throw new Error(reason);
}

/** Decodes PNG or JPEG bytes (told apart by their signature) to RGBA pixels. */
export function decodeImage(bytes: Buffer): RgbaImage {
  // The size in the header is checked before decoding: a 900 kB PNG of 30000×30000 zeros decodes to 3.6 GB.
  refuseTooLarge(imageHeaderSize(bytes));
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) {
    const png = pngjs.PNG.sync.read(bytes);
    refuseTooLarge(png);
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    return { width: image.width, height: image.height, data: image.data };
  }
  throw new Error('not a PNG or JPEG file');
}

/** The sub-folders of `dir` (one per class), sorted as class names are. */
export function classFolders(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (cause) {
    throw new FedtuneError('data', `cannot read ${dir}: ${(cause as Error).message}`, { cause });
  }
  return sortClassNames(entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name));
}

/**
 * Reads an image folder — one sub-folder per class, PNG and JPEG files in it — as model inputs: each image
 * decoded, resized (bilinear) to height × width with 1 or 3 channels, values in [0, 1]; classes in sorted
 * folder order. A file that cannot be decoded is one clear error naming it, or, with skipBadFiles, skipped
 * and listed.
 */
export function readImageFolder(dir: string, options: ImageFolderOptions): ImageFolderData {
  const classNames = classFolders(dir);
  if (classNames.length === 0) throw new FedtuneError('data', `${dir}: no class folders (put each class's images in its own sub-folder)`);
  checkClassCount(dir, classNames.length, 'class folders');
  const f = options.height * options.width * options.channels;
  const inputs: Float32Array[] = [];
  const labels: number[] = [];
  const skipped: ImageFolderData['skipped'] = [];
  let ignored = 0;
  classNames.forEach((name, k) => {
    const folder = join(dir, name);
    for (const file of readdirSync(folder).sort()) {
      const path = join(folder, file);
      if (!IMAGE_FILE.test(file)) {
        ignored++;
        continue;
      }
      let input: Float32Array;
      try {
        // Inside the try: a link to nothing, or a loop of links, is a file that cannot be read, not a crash.
        if (!statSync(path).isFile()) {
          ignored++;
          continue;
        }
        input = rgbaToInput(decodeImage(readFileSync(path)), options.height, options.width, options.channels);
      } catch (err) {
        const reason = clipText((err as Error).message, 200);
        if (!options.skipBadFiles) throw new FedtuneError('data', `cannot decode ${path}: ${reason} (--skip-bad-files skips such files)`);
        skipped.push({ file: path, reason });
        continue;
      }
      inputs.push(input);
      labels.push(k);
    }
  });
  if (inputs.length === 0) throw new FedtuneError('data', `${dir}: no PNG or JPEG images in its class folders`);
  const x = new Float32Array(inputs.length * f);
  inputs.forEach((input, i) => x.set(input, i * f));
  return {
    dataset: { x, y: Int32Array.from(labels), featureShape: [options.height, options.width, options.channels], numClasses: classNames.length },
    classNames,
    skipped,
    ignored,
  };
}
