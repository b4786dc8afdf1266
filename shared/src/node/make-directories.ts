import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates `path` and its missing parents, returning as `mkdirSync(path, { recursive: true })` would
 * — but one directory at a time. Node's recursive mkdir never returns where the parent exists and mkdir(2) still
 * says ENOENT (a virtual file system: `--out /proc/x` spun the process at full CPU, deaf to Ctrl-C); here that
 * ENOENT is thrown like any other error (an ErrnoException with its code and the path it was raised on).
 */
export function makeDirectories(path: string): void {
  const missing: string[] = [];
  for (let dir = resolve(path); ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw err;
      missing.push(dir);
      const parent = dirname(dir);
      if (parent === dir) throw err; // no root (not on a POSIX file system)
      dir = parent;
      continue;
    }
    if (isDirectory) break;
    const [code, what] = missing.length ? ['ENOTDIR', 'not a directory'] : ['EEXIST', 'file already exists'];
    throw Object.assign(new Error(`${code}: ${what}, mkdir '${missing.at(-1) ?? dir}'`), { code, syscall: 'mkdir', path: missing.at(-1) ?? dir });
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (err) {
      // Made by someone else in the meantime: fine if it is a directory now.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(dir).isDirectory()) throw err;
    }
  }
}
