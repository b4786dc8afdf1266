import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsyncDirAsync, writeFileDurable } from '../../coordinator/src/persistence/write-file-durable.ts';

describe('fsyncDirAsync: a directory fsync on libuv threads (writeFileDurable ends with it)', () => {
  it('resolves for a directory, rejects (ENOENT) for one that does not exist', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-fsync-'));
    await expect(fsyncDirAsync(dir)).resolves.toBeUndefined();
    await expect(fsyncDirAsync(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writeFileDurable still leaves the complete file and no temporary one, and keeps the event loop turning while it syncs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-fsync-'));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      for (let i = 0; i < 5; i++) await writeFileDurable(join(dir, 'a.bin'), [new Uint8Array([i, 1, 2]), new Uint8Array(1000).fill(i)]);
    } finally {
      clearInterval(timer);
    }
    expect([...readFileSync(join(dir, 'a.bin')).subarray(0, 4)]).toEqual([4, 1, 2, 4]);
    expect(readdirSync(dir)).toEqual(['a.bin']);
    expect(ticks).toBeGreaterThan(0);
  });
});
