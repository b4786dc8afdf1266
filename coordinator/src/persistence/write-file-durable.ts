import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { makeDirectories } from '@fedtune/shared/node';
import { basename, dirname, join } from 'node:path';

/** Temporary files are named `.<name>.tmp-<pid>-<random>` next to their target. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** A temporary file of `writeFileDurable` (`.NAME.tmp-PID-HEX`) or of shared's `writeFileAtomic` (`NAME.tmp-PID-TIME`). */
export function isTempFile(name: string): boolean {
  return /\.tmp-\d+-[0-9a-f]+$/.test(name);
}

/** A directory fsync the OS refuses (Windows, some filesystems): skipped, not an error. */
function dirFsyncUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL' || code === 'EBADF';
}

/** fsyncs a directory so that a rename inside it survives a power loss. No-op where the OS refuses (Windows). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    if (!dirFsyncUnsupported(err)) throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `fsyncDir` on libuv's threads: the event loop keeps serving sites while the directory reaches the disk. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!dirFsyncUnsupported(err)) throw err;
  } finally {
    await handle?.close();
  }
}

export interface DurableWriteOptions {
  /** Called after each chunk is written (tests use it to die mid-write). */
  onChunk?: (bytesWritten: number, totalBytes: number) => void;
}

/**
 * Writes `chunks` to `path` atomically and durably: a temporary file in the same directory, every chunk
 * written, fsync the file, rename over `path`, fsync the directory. A crash at any point leaves either the
 * old file or the complete new one at `path` — never a partial file (at worst a stray temporary file,
 * which `removeStaleTempFiles` cleans up). Writes are asynchronous, so the event loop keeps serving sites
 * while a large checkpoint goes to disk.
 */
export async function writeFileDurable(path: string, chunks: Uint8Array[], options: DurableWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  makeDirectories(dir); // a few stat calls where it exists (every write after the first)
  const tmp = tempPathFor(path);
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const handle = await open(tmp, 'w');
  let ok = false;
  try {
    let written = 0;
    for (const chunk of chunks) {
      // At most 8 MiB per write call, so one huge section does not hold a libuv thread for long.
      for (let off = 0; off < chunk.byteLength; ) {
        const n = Math.min(8 * 1024 * 1024, chunk.byteLength - off);
        const { bytesWritten } = await handle.write(chunk, off, n);
        off += bytesWritten;
        written += bytesWritten;
        options.onChunk?.(written, total);
      }
    }
    await handle.sync();
    ok = true;
  } finally {
    await handle.close();
    if (!ok) await rm(tmp, { force: true });
  }
  await rename(tmp, path);
  await fsyncDirAsync(dir);
}

/** Removes temporary files left in `dir` by writers that died, older than `minAgeMs`. Returns their names. */
export function removeStaleTempFiles(dir: string, minAgeMs = 0): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    if (!isTempFile(name)) continue;
    const path = join(dir, name);
    try {
      if (now - statSync(path).mtimeMs < minAgeMs) continue;
      rmSync(path, { force: true });
      removed.push(name);
    } catch {
      // raced with another cleaner; fine
    }
  }
  return removed;
}
