import { closeSync, existsSync, fsyncSync, openSync, truncateSync, writeSync } from 'node:fs';

/**
 * Moves the bytes of `bytes` (a file's content) from `end` on — a last line a crash cut short — out of the file at
 * `path`: written to the first free name of `base`, `base-2`, `base-3`, … (created new and fsync'd: never over an
 * earlier one, it is evidence), then cut from the file (fsync'd). Returns the name written. The caller's directory
 * fsync, if it needs one, is its own.
 */
export function moveTailAside(path: string, bytes: Uint8Array, end: number, base: string): string {
  let aside = base;
  for (let k = 2; existsSync(aside); k++) aside = `${base}-${k}`;
  const tail = bytes.subarray(end);
  const fd = openSync(aside, 'wx');
  try {
    for (let off = 0; off < tail.length; ) off += writeSync(fd, tail.subarray(off));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  truncateSync(path, end);
  const log = openSync(path, 'r+');
  try {
    fsyncSync(log);
  } finally {
    closeSync(log);
  }
  return aside;
}
