import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditEntryHash, canonicalJson, chainAuditEntry, GENESIS_PREV, isFedtuneError, MAX_AUDIT_LINE_CHARS, sha256Hex, verifyAuditChain, type AuditEntry } from '@fedtune/shared';
import { AuditLog, nativeSha256Hex } from '../../coordinator/src/audit/audit-log.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

const AT = new Date('2026-01-02T03:04:05.000Z');

/** A real log of six entries on disk, and its lines. */
function writeLog(): { path: string; lines: string[] } {
  const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
  const log = AuditLog.open(path, { now: () => AT });
  log.append('run-start', { runId: 'r1', config: 'c'.repeat(64), model: 'd'.repeat(64) });
  log.append('join', { siteId: 'site-a', numExamples: 10 });
  log.append('round-start', { round: 1, attempt: 1, participants: ['site-a'] });
  log.append('update', { round: 1, siteId: 'site-a', sha256: 'e'.repeat(64), accepted: true });
  log.append('model', { round: 1, sha256: 'f'.repeat(64) });
  log.append('complete', { status: 'complete', rounds: 1 });
  log.close();
  const text = readFileSync(path, 'utf8');
  return { path, lines: text.split('\n').slice(0, -1) };
}

const parse = (line: string) => JSON.parse(line) as AuditEntry;
const join_ = (lines: string[]) => `${lines.join('\n')}\n`;

describe('canonical JSON and entry hashes', () => {
  it('sorts keys recursively, drops undefined, keeps array order; refuses non-finite numbers', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,1]},"b":1}');
    expect(canonicalJson([undefined, null, true])).toBe('[null,null,true]');
    expect(thrown(() => canonicalJson({ x: NaN }))).toMatchObject({ code: 'non_finite' });
    expect(thrown(() => canonicalJson({ x: Infinity }))).toMatchObject({ code: 'non_finite' });
    expect(thrown(() => canonicalJson({ x: () => 1 }))).toMatchObject({ code: 'malformed_payload' });
  });

  it('hash = sha-256 of the canonical JSON of {seq, at, type, data, prev}', () => {
    const e = chainAuditEntry(0, GENESIS_PREV, 'join', { siteId: 's' }, '2026-01-01T00:00:00.000Z');
    expect(GENESIS_PREV).toBe('0'.repeat(64));
    expect(e.hash).toBe(sha256Hex(`{"at":"2026-01-01T00:00:00.000Z","data":{"siteId":"s"},"prev":"${GENESIS_PREV}","seq":0,"type":"join"}`));
    expect(auditEntryHash(e)).toBe(e.hash);
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('verifyAuditChain', () => {
  it('accepts an intact log and gives its count and head', () => {
    const { lines } = writeLog();
    const v = verifyAuditChain(join_(lines));
    expect(v).toMatchObject({ ok: true, count: 6, head: parse(lines[5]).hash });
    expect(verifyAuditChain('')).toMatchObject({ ok: true, count: 0, head: GENESIS_PREV });
    expect(lines.map((l) => parse(l).seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(parse(lines[0]).prev).toBe(GENESIS_PREV);
    for (let i = 1; i < 6; i++) expect(parse(lines[i]).prev).toBe(parse(lines[i - 1]).hash);
  });

  const tamperings: Array<[string, (lines: string[]) => string, { line: number; seq?: number; message: string }]> = [
    [
      'an edited entry (data changed, hash left)',
      (l) => join_(l.map((x, i) => (i === 3 ? x.replace('"accepted":true', '"accepted":false') : x))),
      { line: 4, seq: 3, message: 'audit log broken at line 4 (seq 3): hash does not match the entry (the entry was edited)' },
    ],
    [
      'an edited entry with its hash recomputed (the next prev breaks)',
      (l) =>
        join_(
          l.map((x, i) => {
            if (i !== 3) return x;
            const e = parse(x);
            const edited = { ...e, data: { ...e.data, accepted: false } };
            return JSON.stringify({ ...edited, hash: auditEntryHash(edited) });
          }),
        ),
      { line: 5, seq: 4, message: 'audit log broken at line 5 (seq 4): prev does not match the hash of the entry before (that entry was edited, deleted, inserted or moved)' },
    ],
    [
      'a middle entry deleted',
      (l) => join_(l.filter((_, i) => i !== 2)),
      { line: 3, seq: 3, message: 'audit log broken at line 3 (seq 3): seq 3 where 2 was expected (an entry was deleted, inserted or moved)' },
    ],
    [
      'two entries swapped',
      (l) => join_([l[0], l[2], l[1], ...l.slice(3)]),
      { line: 2, seq: 2, message: 'audit log broken at line 2 (seq 2): seq 2 where 1 was expected (an entry was deleted, inserted or moved)' },
    ],
    [
      'an entry inserted (seq and hashes of its own)',
      (l) => {
        const before = parse(l[1]);
        const forged = chainAuditEntry(2, before.hash, 'join', { siteId: 'mallory' }, AT.toISOString());
        return join_([l[0], l[1], JSON.stringify(forged), ...l.slice(2)]);
      },
      { line: 4, seq: 2, message: 'audit log broken at line 4 (seq 2): seq 2 where 3 was expected (an entry was deleted, inserted or moved)' },
    ],
    [
      'an entry inserted and every later seq renumbered',
      (l) => {
        const before = parse(l[1]);
        const forged = chainAuditEntry(2, before.hash, 'join', { siteId: 'mallory' }, AT.toISOString());
        const rest = l.slice(2).map((x) => JSON.stringify({ ...parse(x), seq: parse(x).seq + 1 }));
        return join_([l[0], l[1], JSON.stringify(forged), ...rest]);
      },
      { line: 4, seq: 3, message: 'audit log broken at line 4 (seq 3): prev does not match the hash of the entry before (that entry was edited, deleted, inserted or moved)' },
    ],
    [
      'the file cut mid-line',
      (l) => join_(l).slice(0, join_(l).length - 20),
      { line: 6, message: 'audit log broken at line 6: the last line is cut short (no newline at its end)' },
    ],
    [
      'a line cut and the rest appended',
      (l) => join_([l[0], l[1].slice(0, 30), ...l.slice(2)]),
      { line: 2, message: 'audit log broken at line 2: not valid JSON (edited or cut short)' },
    ],
    [
      'an empty line',
      (l) => join_([l[0], '', ...l.slice(1)]),
      { line: 2, message: 'audit log broken at line 2: empty line' },
    ],
    [
      'an entry with an unknown type',
      (l) => join_([l[0], l[1].replace('"type":"join"', '"type":"joined"'), ...l.slice(2)]),
      { line: 2, message: 'audit log broken at line 2: malformed entry: type: Invalid option: expected one of "run-start"|"terms"|"join"|"leave"|"refusal"|"round-start"|"update"|"secure-aggregation"|"model"|"privacy"|"complete"|"recovery"' },
    ],
    [
      'an entry with an extra field',
      (l) => join_([l[0], JSON.stringify({ ...parse(l[1]), note: 'x' }), ...l.slice(2)]),
      { line: 2, message: 'audit log broken at line 2: malformed entry: (entry): Unrecognized key: "note"' },
    ],
    [
      'the first entry with a prev other than genesis',
      (l) => join_([JSON.stringify({ ...parse(l[0]), prev: '1'.repeat(64) }), ...l.slice(1)]),
      { line: 1, seq: 0, message: 'audit log broken at line 1 (seq 0): prev does not match the hash of the entry before (that entry was edited, deleted, inserted or moved)' },
    ],
  ];

  it.each(tamperings)('detects %s and names the first bad entry', (_name, tamper, expected) => {
    const { lines } = writeLog();
    const v = verifyAuditChain(tamper(lines));
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toBe(expected.message);
    expect(v.line).toBe(expected.line);
    expect(v.seq).toBe(expected.seq);
    expect(v.good).toHaveLength(expected.line - 1);
  });

  it('detects the last entry deleted only against a known head, which a longer (grown) log still holds', () => {
    const { lines } = writeLog();
    const head = parse(lines[5]).hash;
    const short = join_(lines.slice(0, 5));
    expect(verifyAuditChain(short)).toMatchObject({ ok: true, count: 5 });
    const v = verifyAuditChain(short, { expectedHead: head });
    expect(v).toMatchObject({ ok: false, line: 6 });
    expect(!v.ok && v.message).toBe(`audit log head mismatch: the expected head ${head} is not in the log, which ends at ${parse(lines[4]).hash} after 5 entries (entries were deleted or rewritten)`);
    // A head taken earlier is still in the grown log: fine.
    expect(verifyAuditChain(join_(lines), { expectedHead: parse(lines[2]).hash })).toMatchObject({ ok: true, count: 6 });
    expect(verifyAuditChain(join_(lines), { expectedHead: head })).toMatchObject({ ok: true, count: 6, head });
  });

  it('refuses a huge line without parsing it', () => {
    expect(MAX_AUDIT_LINE_CHARS).toBe(16 * 1024 * 1024);
    const v = verifyAuditChain(`${'x'.repeat(MAX_AUDIT_LINE_CHARS + 1)}\n`);
    expect(!v.ok && v.message).toBe('audit log broken at line 1: line longer than 16777216 characters');
    expect(verifyAuditChain(`${'x'.repeat(MAX_AUDIT_LINE_CHARS)}\n`)).toMatchObject({ ok: false, reason: 'not valid JSON (edited or cut short)' });
  });
});

describe('AuditLog on disk', () => {
  it('continues the chain of an existing log when reopened (a resumed run), one chain', () => {
    const { path, lines } = writeLog();
    const log = AuditLog.open(path, { now: () => AT });
    expect(log.head()).toEqual({ count: 6, head: parse(lines[5]).hash });
    log.append('run-start', { runId: 'r1', resumedAfterRound: 1 });
    log.close();
    const v = verifyAuditChain(readFileSync(path, 'utf8'));
    expect(v).toMatchObject({ ok: true, count: 7 });
    expect(v.ok && v.good[6].prev).toBe(parse(lines[5]).hash);
    // Appending after close is ignored (late events of an ended run), never a throw.
    log.append('join', { siteId: 'late' });
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 7 });
  });

  it('refuses to continue a broken log with one clear persistence error, and leaves it as it was', () => {
    const { path, lines } = writeLog();
    const broken = join_(lines.filter((_, i) => i !== 1));
    writeFileSync(path, broken);
    const err = thrown(() => AuditLog.open(path));
    expect(isFedtuneError(err, 'persistence')).toBe(true);
    expect((err as Error).message).toBe(
      `the run's audit log ${path} is broken, so its chain cannot be continued: audit log broken at line 2 (seq 2): seq 2 where 1 was expected (an entry was deleted, inserted or moved) (keep it as evidence; move it aside to start a new log)`,
    );
    expect(readFileSync(path, 'utf8')).toBe(broken);
  });

  it('writes entries in batches: nothing on disk until the tick ends or flush, everything after', async () => {
    const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
    const log = AuditLog.open(path);
    log.append('join', { siteId: 'a' });
    log.append('join', { siteId: 'b' });
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(log.head().count).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 2 });
    log.append('leave', { siteId: 'a', reason: 'bye' });
    log.flush();
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 3, head: log.head().head });
    log.close();
  });
});

describe('AuditLog fsync off the event loop', () => {
  /** An fsync that only records its call; the test decides when it completes. */
  function heldFsync() {
    const calls: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    return { calls, fsync: (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void calls.push(done) };
  }

  it("a tick's batch is written at once and fsync'd asynchronously, one fsync at a time; batches written meanwhile share the next", async () => {
    const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
    const held = heldFsync();
    const log = AuditLog.open(path, { fsync: held.fsync });
    log.append('join', { siteId: 'a' });
    await new Promise((r) => setImmediate(r));
    // Written (readable) although its fsync has not completed: the event loop did not wait for the disk.
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 1 });
    expect(held.calls).toHaveLength(1);
    let synced = false;
    void log.synced().then(() => (synced = true));
    log.append('join', { siteId: 'b' });
    await new Promise((r) => setImmediate(r));
    log.append('join', { siteId: 'c' });
    await new Promise((r) => setImmediate(r));
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 3 });
    expect(held.calls).toHaveLength(1); // the first is still running: no second fsync yet
    held.calls[0](null);
    expect(held.calls).toHaveLength(2); // one fsync for both later batches
    await new Promise((r) => setImmediate(r));
    expect(synced).toBe(false);
    held.calls[1](null);
    await new Promise((r) => setImmediate(r));
    expect(synced).toBe(true);
    await expect(log.synced()).resolves.toBeUndefined();
    log.close();
  });

  it("flushAsync writes what is pending at once and resolves only after an fsync that covers it (the event loop keeps turning meanwhile)", async () => {
    const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
    const held = heldFsync();
    const log = AuditLog.open(path, { fsync: held.fsync });
    log.append('join', { siteId: 'a' });
    let done = false;
    const flushed = log.flushAsync().then(() => (done = true));
    // Written now (not at the next tick), its fsync started and not awaited synchronously.
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 1 });
    expect(held.calls).toHaveLength(1);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    // An fsync running when flushAsync is called does not cover entries written after it started: the next one does.
    log.append('join', { siteId: 'b' });
    let second = false;
    const flushed2 = log.flushAsync().then(() => (second = true));
    held.calls[0](null);
    await new Promise((r) => setImmediate(r));
    // The next fsync started at once for b; both wait for it (synced() resolves when no fsync is left running).
    expect(held.calls).toHaveLength(2);
    expect(second).toBe(false);
    held.calls[1](null);
    await Promise.all([flushed, flushed2]);
    expect([done, second]).toEqual([true, true]);
    // Nothing pending and no fsync running: resolves at once; after close as well.
    await expect(log.flushAsync()).resolves.toBeUndefined();
    expect(held.calls).toHaveLength(2);
    log.close();
    await expect(log.flushAsync()).resolves.toBeUndefined();
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 2 });
  });

  it('flush writes and fsyncs synchronously (no asynchronous fsync for it); close waits for a running fsync before closing the file', async () => {
    const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
    const held = heldFsync();
    const log = AuditLog.open(path, { fsync: held.fsync });
    log.append('join', { siteId: 'a' });
    log.flush();
    expect(held.calls).toHaveLength(0);
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 1 });
    log.append('join', { siteId: 'b' });
    await new Promise((r) => setImmediate(r));
    expect(held.calls).toHaveLength(1);
    log.append('leave', { siteId: 'b', reason: 'bye' });
    log.close();
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 3 });
    let closedAfter = false;
    void log.synced().then(() => (closedAfter = true));
    held.calls[0](null); // the running fsync ends: the descriptor is closed now, once
    await new Promise((r) => setImmediate(r));
    expect(closedAfter).toBe(true);
    expect(held.calls).toHaveLength(1);
  });

  it("a failed asynchronous fsync is reported to onWriteError (the run's loud path), and later batches still sync", async () => {
    const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
    const held = heldFsync();
    const errors: unknown[] = [];
    const log = AuditLog.open(path, { fsync: held.fsync, onWriteError: (e) => errors.push(e) });
    log.append('join', { siteId: 'a' });
    await new Promise((r) => setImmediate(r));
    const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    held.calls[0](eio);
    expect(errors).toEqual([eio]);
    log.append('join', { siteId: 'b' });
    await new Promise((r) => setImmediate(r));
    expect(held.calls).toHaveLength(2);
    held.calls[1](null);
    log.close();
  });

  it('with the real fsync: entries of many ticks end up on disk and synced', async () => {
    const path = join(tempDir('fedtune-audit-'), 'audit.jsonl');
    const log = AuditLog.open(path);
    for (let k = 0; k < 20; k++) {
      log.append('join', { siteId: `s${k}` });
      await new Promise((r) => setImmediate(r));
    }
    await log.synced();
    expect(verifyAuditChain(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, count: 20, head: log.head().head });
    log.close();
  });
});

describe("the coordinator's native entry hash", () => {
  it.each([
    ['empty', ''],
    ['ascii', '{"a":1}'],
    ['unicode (UTF-8 bytes)', 'site-é — 日本 🙂'],
    ['long', 'x'.repeat(100_000)],
  ])('nativeSha256Hex equals the pure-JS sha256Hex: %s', (_name, text) => {
    expect(nativeSha256Hex(text)).toBe(sha256Hex(text));
  });

  it('chainAuditEntry with the native hash gives the entry the default hash gives (a log it writes verifies anywhere)', () => {
    const data = { siteId: 'site-é', numExamples: 3, nested: { b: [1, 2], a: 'z' } };
    const native = chainAuditEntry(4, 'a'.repeat(64), 'join', data, AT.toISOString(), nativeSha256Hex);
    expect(native).toEqual(chainAuditEntry(4, 'a'.repeat(64), 'join', data, AT.toISOString()));
    expect(native.hash).toBe(auditEntryHash(native));
  });
});
