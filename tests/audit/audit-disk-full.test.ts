import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFedtuneError, verifyAuditChain } from '@fedtune/shared';
import { AUDIT_FILE, AUDIT_UNWRITTEN_LIMIT_BYTES, AuditLog } from '../../coordinator/src/audit/audit-log.ts';
import { tempDir } from '../helpers/federation.ts';
import { descriptorsOn } from '../helpers/open-descriptors.ts';

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
const newPath = () => join(tempDir('fedtune-audit-full-'), AUDIT_FILE);
const tick = () => new Promise((r) => setImmediate(r));

/** A disk that takes `room` more bytes, then refuses (a short write first, then ENOSPC), until `free()` is called. */
function fillingDisk(room: number) {
  let left = room;
  let full = true;
  const calls: number[] = [];
  return {
    calls,
    free: () => {
      full = false;
    },
    write: (fd: number, bytes: Uint8Array): number => {
      calls.push(bytes.length);
      if (!full) return writeSync(fd, bytes);
      if (left === 0) throw enospc();
      const n = Math.min(left, bytes.length);
      left -= n;
      return writeSync(fd, bytes.subarray(0, n));
    },
  };
}

/** A log whose first entry is on disk, its writes replaceable by the test (options.write), its write errors collected. */
function startedLog() {
  const path = newPath();
  const errors: unknown[] = [];
  const log = AuditLog.open(path, { write: (fd, bytes) => writeSync(fd, bytes), onWriteError: (e) => errors.push(e) });
  log.append('run-start', { runId: 'r' });
  log.flush();
  return { path, errors, log };
}

function chain(path: string) {
  const v = verifyAuditChain(readFileSync(path, 'utf8'));
  if (!v.ok) throw new Error(v.message);
  return v.good;
}

describe('the audit log on a full disk', () => {
  it('a batch cut short by a full disk leaves no half line: cut off again, kept, and written ahead of the next batch once there is room — one whole chain, nothing lost', async () => {
    const { path, errors, log } = startedLog();
    const whole = readFileSync(path).length;
    // Room for 100 more bytes: the next batch (two entries) is written in part, then refused.
    const full = fillingDisk(100);
    (log as unknown as { options: { write: unknown } }).options.write = full.write;
    log.append('join', { siteId: 'a' });
    log.append('join', { siteId: 'b' });
    await tick();
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOSPC']);
    expect(readFileSync(path).length).toBe(whole);
    expect(chain(path).map((e) => e.type)).toEqual(['run-start']);
    // Still full at the next batch: refused again, still nothing half written.
    log.append('leave', { siteId: 'a' });
    await tick();
    expect(errors).toHaveLength(2);
    expect(readFileSync(path).length).toBe(whole);
    // Room again: the held entries go first, in order, with the new one.
    full.free();
    log.append('leave', { siteId: 'b' });
    await tick();
    expect(chain(path).map((e) => [e.seq, e.type, e.data.siteId])).toEqual([
      [0, 'run-start', undefined],
      [1, 'join', 'a'],
      [2, 'join', 'b'],
      [3, 'leave', 'a'],
      [4, 'leave', 'b'],
    ]);
    log.close();
    expect(errors).toHaveLength(2);
  });

  it('a durable point (flush) with nothing new pending still writes what the disk refused before, or throws', () => {
    const path = newPath();
    const disk = fillingDisk(0);
    const log = AuditLog.open(path, { write: disk.write, onWriteError: () => undefined });
    log.append('run-start', { runId: 'r' });
    expect(() => log.flush()).toThrow(/ENOSPC/);
    expect(readFileSync(path, 'utf8')).toBe('');
    disk.free();
    log.flush();
    expect(chain(path).map((e) => e.type)).toEqual(['run-start']);
    log.close();
  });

  it('held back beyond its limit, the log stops: a whole chain up to its last written entry, one typed error, later entries ignored', () => {
    const { path, errors, log } = startedLog();
    const stuck = fillingDisk(0);
    (log as unknown as { options: { write: unknown } }).options.write = stuck.write;
    const big = 'x'.repeat(1024 * 1024);
    let thrown: unknown;
    let k = 0;
    for (; k < 100 && thrown === undefined; k++) {
      log.append('update', { siteId: 's', note: big });
      try {
        log.flush();
      } catch (err) {
        if (isFedtuneError(err)) thrown = err;
      }
    }
    // Each entry is a little over 1 MB: the limit is passed by the entry that takes the held bytes over it.
    expect(k).toBe(Math.floor(AUDIT_UNWRITTEN_LIMIT_BYTES / (1024 * 1024 + 200)) + 1);
    expect(isFedtuneError(thrown) && thrown.code).toBe('persistence');
    expect((thrown as Error).message).toMatch(/^the audit log stopped after 1 entries: \d+ bytes of entries could not be written \(ENOSPC: no space left on device, write\)$/);
    // Stopped: its descriptor is closed.
    expect(descriptorsOn(path)).toEqual([]);
    stuck.free();
    log.append('complete', { status: 'aborted' });
    log.flush();
    log.close();
    expect(chain(path).map((e) => e.type)).toEqual(['run-start']);
  });
});

describe('the error that stops the log', () => {
  it('carries the disk\'s own message, clipped to 200 characters', () => {
    const path = newPath();
    const long = Object.assign(new Error(`ENOSPC: ${'x'.repeat(400)}`), { code: 'ENOSPC' });
    const log = AuditLog.open(path, {
      write: () => {
        throw long;
      },
      onWriteError: () => undefined,
    });
    let thrown: unknown;
    for (let k = 0; k < 100 && thrown === undefined; k++) {
      log.append('update', { note: 'y'.repeat(1024 * 1024) });
      try {
        log.flush();
      } catch (err) {
        if (isFedtuneError(err)) thrown = err;
      }
    }
    expect((thrown as Error).message).toMatch(new RegExp(`could not be written \\(ENOSPC: x{192}\\)$`));
  });
});
