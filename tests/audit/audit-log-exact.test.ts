import { closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, GENESIS_PREV, isFedtuneError, MAX_AUDIT_LINE_CHARS, sha256Hex, verifyAuditChain } from '@fedtune/shared';
import { AUDIT_FILE, AuditLog } from '../../coordinator/src/audit/audit-log.ts';
import { tempDir } from '../helpers/federation.ts';
import { descriptorsOn } from '../helpers/open-descriptors.ts';

const AT = '2026-01-02T03:04:05.000Z';
const tick = () => new Promise((r) => setImmediate(r));

/** The line AuditLog must write for an entry: its keys in this order, its hash the pure-JS SHA-256 of the canonical body. */
function expectedLine(seq: number, prev: string, type: string, data: Record<string, unknown>, at = AT): { line: string; hash: string } {
  const hash = sha256Hex(canonicalJson({ seq, at, type, data, prev }));
  return { line: `${JSON.stringify({ seq, at, type, data, prev, hash })}\n`, hash };
}


/** An fsync that only records its call; the test decides when (and how) it completes. */
function heldFsync() {
  const calls: Array<(err: NodeJS.ErrnoException | null) => void> = [];
  return { calls, fsync: (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void calls.push(done) };
}

const newPath = () => join(tempDir('fedtune-audit-exact-'), AUDIT_FILE);
const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });

describe('AuditLog: the exact lines on disk', () => {
  it('abandon(): the entries not yet written are dropped and later ones ignored; another writer continues the chain on disk (cluster failover)', async () => {
    const path = join(tempDir('fedtune-audit-abandon-'), AUDIT_FILE);
    const old = AuditLog.open(path);
    old.append('run-start', { runId: 'r' });
    old.flush();
    old.append('leave', { siteId: 'a' }); // pending: not written yet
    // The new leader opens the log and continues it from what is on disk.
    const next = AuditLog.open(path);
    next.append('run-start', { runId: 'r', resumedAfterRound: 0 });
    next.flush();
    old.abandon();
    // The old writer's descriptor is closed at once (no fsync of its was running): only the new one's is left.
    expect(descriptorsOn(path)).toHaveLength(1);
    old.append('complete', { status: 'aborted' });
    old.flush();
    await old.flushAsync();
    old.abandon();
    next.append('join', { siteId: 'b' });
    next.close();
    const v = verifyAuditChain(readFileSync(path, 'utf8'));
    expect(v.ok).toBe(true);
    expect(v.ok && v.good.map((e) => e.type)).toEqual(['run-start', 'run-start', 'join']);
  });

  it("is the run directory's audit.jsonl", () => {
    expect(AUDIT_FILE).toBe('audit.jsonl');
  });

  it('writes each entry as one JSON line (seq, at, type, data, prev, hash), chained from 64 zeros, UTF-8 on disk', () => {
    const path = newPath();
    const log = AuditLog.open(path, { now: () => new Date(AT) });
    expect(log.head()).toEqual({ count: 0, head: GENESIS_PREV });
    log.append('join', { siteId: 'site-é 日本', numExamples: 3 });
    log.append('leave', { siteId: 'site-é 日本', reason: 'bye 🙂' });
    log.flush();
    const first = expectedLine(0, GENESIS_PREV, 'join', { siteId: 'site-é 日本', numExamples: 3 });
    const second = expectedLine(1, first.hash, 'leave', { siteId: 'site-é 日本', reason: 'bye 🙂' });
    expect(readFileSync(path)).toEqual(Buffer.from(first.line + second.line, 'utf8'));
    expect(log.head()).toEqual({ count: 2, head: second.hash });
    log.close();
  });

  it("stamps each entry with the clock's time when it is appended (the real clock by default)", () => {
    const path = newPath();
    const log = AuditLog.open(path);
    const before = new Date().toISOString();
    log.append('join', { siteId: 'a' });
    const after = new Date().toISOString();
    log.close();
    const { at } = JSON.parse(readFileSync(path, 'utf8')) as { at: string };
    expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(at >= before && at <= after).toBe(true);
  });

  it('reopened, appends after the lines already there (never truncates) and continues their chain', () => {
    const path = newPath();
    const log = AuditLog.open(path, { now: () => new Date(AT) });
    log.append('join', { siteId: 'a' });
    log.append('join', { siteId: 'b' });
    log.close();
    const before = readFileSync(path, 'utf8');
    const head = log.head();
    const again = AuditLog.open(path, { now: () => new Date(AT) });
    expect(again.head()).toEqual(head);
    again.append('leave', { siteId: 'a', reason: 'bye' });
    again.close();
    expect(readFileSync(path, 'utf8')).toBe(before + expectedLine(2, head.head, 'leave', { siteId: 'a', reason: 'bye' }).line);
  });

  it('an existing empty file is a new chain', () => {
    const path = newPath();
    writeFileSync(path, '');
    const log = AuditLog.open(path, { now: () => new Date(AT) });
    expect(log.head()).toEqual({ count: 0, head: GENESIS_PREV });
    log.append('join', { siteId: 'a' });
    log.close();
    expect(readFileSync(path, 'utf8')).toBe(expectedLine(0, GENESIS_PREV, 'join', { siteId: 'a' }).line);
  });

  it('a burst writes at its 512th pending entry at once, without waiting for the tick', () => {
    const path = newPath();
    const log = AuditLog.open(path);
    for (let k = 0; k < 511; k++) log.append('join', { siteId: `s${k}` });
    expect(readFileSync(path, 'utf8')).toBe('');
    log.append('join', { siteId: 's511' });
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 512, head: log.head().head });
    log.close();
  });
});

describe('AuditLog: write and fsync errors', () => {
  // The log's descriptor closed under it (EBADF on the next write): the 512th entry writes synchronously, so no
  // other file can take the descriptor's number between the close and the write.
  function failingBurst(log: AuditLog, path: string): void {
    const [fd] = descriptorsOn(path);
    closeSync(fd);
    for (let k = 0; k < 512; k++) log.append('join', { siteId: `s${k}` });
  }

  it("a batch that cannot be written is reported to onWriteError (the run goes on); without onWriteError nothing throws", () => {
    const errors: unknown[] = [];
    const path = newPath();
    failingBurst(AuditLog.open(path, { onWriteError: (e) => errors.push(e) }), path);
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('EBADF');
    const quiet = newPath();
    expect(() => failingBurst(AuditLog.open(quiet), quiet)).not.toThrow();
  });

  it('a successful fsync is never reported, and each batch written after an fsync ended gets exactly one more', async () => {
    const path = newPath();
    const held = heldFsync();
    const errors: unknown[] = [];
    const log = AuditLog.open(path, { fsync: held.fsync, onWriteError: (e) => errors.push(e) });
    log.append('join', { siteId: 'a' });
    await tick();
    expect(held.calls).toHaveLength(1);
    held.calls[0](null);
    await expect(log.synced()).resolves.toBeUndefined();
    expect(held.calls).toHaveLength(1);
    log.append('join', { siteId: 'b' });
    await tick();
    expect(held.calls).toHaveLength(2);
    held.calls[1](null);
    await tick();
    log.append('join', { siteId: 'c' });
    await tick();
    expect(held.calls).toHaveLength(3);
    held.calls[2](null);
    await tick();
    expect(held.calls).toHaveLength(3);
    expect(errors).toEqual([]);
    log.close();
  });

  it('a failed fsync without onWriteError does not throw, and synced() still resolves', async () => {
    const path = newPath();
    const held = heldFsync();
    const log = AuditLog.open(path, { fsync: held.fsync });
    log.append('join', { siteId: 'a' });
    await tick();
    let synced = false;
    void log.synced().then(() => (synced = true));
    expect(() => held.calls[0](eio())).not.toThrow();
    await tick();
    expect(synced).toBe(true);
    log.close();
  });

  it('a failed fsync that ends after close is not reported (close fsync\'d everything itself)', async () => {
    const path = newPath();
    const held = heldFsync();
    const errors: unknown[] = [];
    const log = AuditLog.open(path, { fsync: held.fsync, onWriteError: (e) => errors.push(e) });
    log.append('join', { siteId: 'a' });
    await tick();
    log.close();
    held.calls[0](eio());
    expect(errors).toEqual([]);
  });
});

describe('AuditLog: close', () => {
  it('closes its descriptor once; close, flush and flushAsync after it are no-ops, and an append after it never reaches the file', async () => {
    const path = newPath();
    const log = AuditLog.open(path, { now: () => new Date(AT) });
    expect(descriptorsOn(path)).toHaveLength(1);
    log.append('join', { siteId: 'a' });
    log.close();
    expect(descriptorsOn(path)).toEqual([]);
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(expectedLine(0, GENESIS_PREV, 'join', { siteId: 'a' }).line);
    // Each of these would use the closed descriptor (EBADF, or another file's after reuse).
    expect(() => log.close()).not.toThrow();
    expect(() => log.flush()).not.toThrow();
    await expect(log.flushAsync()).resolves.toBeUndefined();
    log.append('join', { siteId: 'late' });
    await tick();
    expect(log.head().count).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('closed while an fsync runs: the descriptor is closed when that fsync ends; flushAsync does not wait for it', async () => {
    const path = newPath();
    const held = heldFsync();
    const log = AuditLog.open(path, { fsync: held.fsync });
    log.append('join', { siteId: 'a' });
    await tick();
    expect(held.calls).toHaveLength(1);
    log.append('join', { siteId: 'b' });
    log.close();
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 2 });
    expect(descriptorsOn(path)).toHaveLength(1);
    let flushed = false;
    void log.flushAsync().then(() => (flushed = true));
    await tick();
    expect(flushed).toBe(true);
    held.calls[0](null);
    expect(descriptorsOn(path)).toEqual([]);
    expect(held.calls).toHaveLength(1);
  });
});

describe('AuditLog: an entry longer than a verifier reads', () => {
  /** data whose entry's line (seq 0, at AT, type join) has exactly `chars` characters. */
  function dataOfLine(chars: number): Record<string, unknown> {
    const bare = expectedLine(0, GENESIS_PREV, 'join', { s: '' }).line.length - 1;
    return { s: 'x'.repeat(chars - bare) };
  }

  it('is written up to MAX_AUDIT_LINE_CHARS; one character more is not chained, and is reported (the log stays verifiable)', () => {
    const errors: unknown[] = [];
    const path = newPath();
    const log = AuditLog.open(path, { now: () => new Date(AT), onWriteError: (e) => errors.push(e) });
    const over = dataOfLine(MAX_AUDIT_LINE_CHARS + 1);
    log.append('join', over);
    expect(log.head()).toEqual({ count: 0, head: GENESIS_PREV });
    expect(errors).toHaveLength(1);
    expect(isFedtuneError(errors[0], 'persistence')).toBe(true);
    expect((errors[0] as Error).message).toBe(`audit entry 0 (join) not written: its line has ${MAX_AUDIT_LINE_CHARS + 1} characters, more than the ${MAX_AUDIT_LINE_CHARS} a verifier reads`);
    const fits = dataOfLine(MAX_AUDIT_LINE_CHARS);
    log.append('join', fits);
    log.close();
    const { line, hash } = expectedLine(0, GENESIS_PREV, 'join', fits);
    expect(line.length).toBe(MAX_AUDIT_LINE_CHARS + 1);
    expect(readFileSync(path, 'utf8')).toBe(line);
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 1, head: hash });
    expect(errors).toHaveLength(1);
    // Without onWriteError: not chained, nothing thrown.
    const quiet = AuditLog.open(newPath(), { now: () => new Date(AT) });
    expect(() => quiet.append('join', over)).not.toThrow();
    expect(quiet.head().count).toBe(0);
    quiet.close();
  });

  it('the largest entry the protocol allows — a secure-aggregation round of 10,000 sites with 128-character ids — is chained and verifies', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `${String(i).padStart(5, '0')}${'s'.repeat(123)}`);
    const data = { round: 1, attempt: 1, participants: ids, survivors: ids, masked: Object.fromEntries(ids.map((id) => [id, 'f'.repeat(64)])) };
    const errors: unknown[] = [];
    const path = newPath();
    const log = AuditLog.open(path, { now: () => new Date(AT), onWriteError: (e) => errors.push(e) });
    log.append('secure-aggregation', data);
    log.close();
    expect(errors).toEqual([]);
    const text = readFileSync(path, 'utf8');
    expect(text.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(verifyAuditChain(text)).toMatchObject({ ok: true, count: 1 });
  });
});
