import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkClassCount, clipText, decodeTextFile, FedtuneError, type TextDataset } from '@fedtune/shared';
import { classFolders } from './read-image-folder.ts';

/** The names a text folder reads (by extension). */
export const TEXT_FILE = /\.txt$/i;

/**
 * Reads a text folder — one sub-folder per class, .txt files in it, each file one example — as raw strings
 * (UTF-8). A file that is not valid UTF-8 or is larger than MAX_TEXT_FILE_BYTES (shared decode-text-file.ts) is one clear error naming it,
 * or with skipBadFiles skipped and listed. Other entries of the class folders (files not named .txt,
 * sub-folders) are ignored and counted in `ignored`.
 */
export function readTextFolder(dir: string, options: { skipBadFiles?: boolean } = {}): { data: TextDataset; skipped: Array<{ file: string; reason: string }>; ignored: number } {
  const classNames = classFolders(dir);
  if (classNames.length === 0) throw new FedtuneError('data', `${dir}: no class folders (put each class's .txt files in its own sub-folder)`);
  checkClassCount(dir, classNames.length, 'class folders');
  const texts: string[] = [];
  const labels: number[] = [];
  const skipped: Array<{ file: string; reason: string }> = [];
  let ignored = 0;
  classNames.forEach((name, k) => {
    for (const file of readdirSync(join(dir, name)).sort()) {
      const path = join(dir, name, file);
      if (!TEXT_FILE.test(file) || !statSync(path).isFile()) {
        ignored++;
        continue;
      }
      try {
        texts.push(decodeTextFile(readFileSync(path)));
        labels.push(k);
      } catch (err) {
        const reason = clipText((err as Error).message, 200);
        if (!options.skipBadFiles) throw new FedtuneError('data', `cannot read ${path}: ${reason} (--skip-bad-files skips such files)`);
        skipped.push({ file: path, reason });
      }
    }
  });
  if (texts.length === 0) throw new FedtuneError('data', `${dir}: no .txt files in its class folders`);
  return { data: { texts, labels: Int32Array.from(labels), classNames }, skipped, ignored };
}
