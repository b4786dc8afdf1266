import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFedtuneError, siteViewOfAuditEntry, verifyAuditChain, type AuditEntry } from '@fedtune/shared';
import { AUDIT_FILE, AuditLog } from '../../coordinator/src/audit/audit-log.ts';
import { recoverTornTail } from '../../coordinator/src/audit/torn-tail.ts';
import { tempDir } from '../helpers/federation.ts';
import { descriptorsOn } from '../helpers/open-descriptors.ts';

const AT = new Date('2026-01-02T03:04:05.000Z');
const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** A log of `n` whole entries (run-start, then joins) in a new directory; returns its path and the next entry's line, as AuditLog would write it. */
function logWith(n: number): { dir: string; path: string; nextLine: string } {
  const dir = tempDir('fedtune-audit-torn-');
  const path = join(dir, AUDIT_FILE);
  const log = AuditLog.open(path, { now: () => AT });
  for (let i = 0; i < n; i++) log.append(i === 0 ? 'run-start' : 'join', i === 0 ? { runId: 'r' } : { siteId: `site-${i}` });
  log.close();
  // The entry a crash would have been writing: written to a copy, read back, the copy discarded.
  const probeDir = tempDir('fedtune-audit-torn-probe-');
  const probe = join(probeDir, AUDIT_FILE);
  writeFileSync(probe, readFileSync(path));
  const more = AuditLog.open(probe, { now: () => AT });
  more.append('leave', { siteId: 'site-1', reason: 'disconnected' });
  more.close();
  const nextLine = readFileSync(probe, 'utf8').slice(readFileSync(path, 'utf8').length);
  return { dir, path, nextLine };
}

function entries(path: string): AuditEntry[] {
  const v = verifyAuditChain(readFileSync(path, 'utf8'));
  if (!v.ok) throw new Error(v.message);
  return v.good;
}


const asideFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith(`${AUDIT_FILE}.torn-`)).sort();

describe('an audit log whose last line a crash cut short', () => {
  it('is recovered when opened: the tail copied aside byte for byte, cut from the log, the recovery recorded as the next entry, told in one line', () => {
    const { dir, path, nextLine } = logWith(3);
    const whole = readFileSync(path);
    const tail = Buffer.from(nextLine.slice(0, 57));
    appendFileSync(path, tail);
    const told: string[] = [];
    const log = AuditLog.open(path, { now: () => AT, onRecovered: (m) => told.push(m) });
    // Written and fsync'd before open returns: another reader sees it at once.
    const got = entries(path);
    expect(got.map((e) => e.type)).toEqual(['run-start', 'join', 'join', 'recovery']);
    expect(got[3]).toMatchObject({ seq: 3, data: { reason: 'torn-tail', afterSeq: 2, bytes: 57, sha256: sha(tail), action: 'moved-aside', savedAs: `${AUDIT_FILE}.torn-3` } });
    expect(readFileSync(path).subarray(0, whole.length).equals(whole)).toBe(true);
    expect(readFileSync(join(dir, `${AUDIT_FILE}.torn-3`)).equals(tail)).toBe(true);
    expect(told).toEqual([`the audit log's last line was cut short by a crash (57 bytes after seq 2): moved aside to ${AUDIT_FILE}.torn-3, and recorded in the log`]);
    // The chain goes on after the recovery.
    expect(log.head()).toEqual({ count: 4, head: got[3].hash });
    log.append('join', { siteId: 'site-9' });
    log.close();
    expect(entries(path).map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a tail that is a whole entry missing only its newline is kept (completed), nothing moved aside', () => {
    const { dir, path, nextLine } = logWith(2);
    appendFileSync(path, nextLine.slice(0, -1));
    const told: string[] = [];
    const log = AuditLog.open(path, { now: () => AT, onRecovered: (m) => told.push(m) });
    log.close();
    const got = entries(path);
    expect(got.map((e) => e.type)).toEqual(['run-start', 'join', 'leave', 'recovery']);
    expect(got[3].data).toEqual({ reason: 'torn-tail', afterSeq: 1, bytes: nextLine.length - 1, sha256: sha(nextLine.slice(0, -1)), action: 'completed' });
    expect(asideFiles(dir)).toEqual([]);
    expect(told).toEqual(["the audit log's last entry (seq 2) had lost its newline in a crash: completed, and recorded in the log"]);
  });

  it.each([
    ['zero bytes a filesystem left after a power loss', Buffer.alloc(4096)],
    ['one byte', Buffer.from('{')],
    ['a multi-byte character cut in two', Buffer.from([0x7b, 0x22, 0xe2, 0x82])],
    ['a line that parses but is no entry', Buffer.from('{"seq":3}')],
  ])('a tail of %s is moved aside too', (_what, tail) => {
    const { dir, path } = logWith(2);
    appendFileSync(path, tail);
    AuditLog.open(path, { now: () => AT }).close();
    const got = entries(path);
    expect(got.at(-1)!.data).toMatchObject({ action: 'moved-aside', bytes: tail.length, sha256: sha(tail), afterSeq: 1 });
    expect(readFileSync(join(dir, asideFiles(dir)[0])).equals(tail)).toBe(true);
  });

  it('a log that is only a torn first line starts its chain with the recovery', () => {
    const { dir, path, nextLine } = logWith(1);
    writeFileSync(path, nextLine.slice(0, 20)); // no whole entry at all
    AuditLog.open(path, { now: () => AT }).close();
    const got = entries(path);
    expect(got.map((e) => [e.seq, e.type])).toEqual([[0, 'recovery']]);
    expect(got[0].data).toMatchObject({ afterSeq: -1, savedAs: `${AUDIT_FILE}.torn-0` });
    expect(asideFiles(dir)).toEqual([`${AUDIT_FILE}.torn-0`]);
  });

  it('recovering leaves no descriptor open on the aside file, and only the log\'s own on the log (none once closed)', () => {
    const { dir, path, nextLine } = logWith(2);
    appendFileSync(path, nextLine.slice(0, 9));
    const log = AuditLog.open(path, { now: () => AT });
    expect(descriptorsOn(join(dir, `${AUDIT_FILE}.torn-2`))).toEqual([]);
    expect(descriptorsOn(path)).toHaveLength(1);
    log.close();
    expect(descriptorsOn(path)).toEqual([]);
    // The completed case too.
    const other = logWith(2);
    appendFileSync(other.path, other.nextLine.slice(0, -1));
    AuditLog.open(other.path, { now: () => AT }).close();
    expect(descriptorsOn(other.path)).toEqual([]);
  });

  it('a whole log ending with a newline is not a torn one: recoverTornTail leaves it alone', () => {
    const { dir, path } = logWith(3);
    const before = readFileSync(path);
    expect(recoverTornTail(path, before)).toBeUndefined();
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(asideFiles(dir)).toEqual([]);
  });

  it('names already taken by earlier recoveries are skipped in turn: -2, then -3', () => {
    const { dir, path, nextLine } = logWith(2);
    writeFileSync(join(dir, `${AUDIT_FILE}.torn-2`), 'earlier');
    writeFileSync(join(dir, `${AUDIT_FILE}.torn-2-2`), 'earlier too');
    appendFileSync(path, nextLine.slice(0, 9));
    AuditLog.open(path, { now: () => AT }).close();
    expect(readFileSync(join(dir, `${AUDIT_FILE}.torn-2-3`), 'utf8')).toBe(nextLine.slice(0, 9));
    expect(readFileSync(join(dir, `${AUDIT_FILE}.torn-2-2`), 'utf8')).toBe('earlier too');
  });

  it('an earlier recovery\'s file of the same name is never overwritten (evidence): the next takes -2', () => {
    const { dir, path, nextLine } = logWith(2);
    writeFileSync(join(dir, `${AUDIT_FILE}.torn-2`), 'earlier');
    appendFileSync(path, nextLine.slice(0, 9));
    AuditLog.open(path, { now: () => AT }).close();
    expect(readFileSync(join(dir, `${AUDIT_FILE}.torn-2`), 'utf8')).toBe('earlier');
    expect(readFileSync(join(dir, `${AUDIT_FILE}.torn-2-2`), 'utf8')).toBe(nextLine.slice(0, 9));
    expect(entries(path).at(-1)!.data).toMatchObject({ savedAs: `${AUDIT_FILE}.torn-2-2` });
  });

  it.each([
    ['an edited entry before the torn tail', (text: string) => text.replace('site-1', 'site-X')],
    ['a deleted entry before the torn tail', (text: string) => text.split('\n').filter((_, i) => i !== 1).join('\n')],
    ['a cut line in the middle', (text: string) => { const lines = text.split('\n'); lines[1] = lines[1].slice(0, 30); return lines.join('\n'); }],
  ])('%s: refused as broken, the file left byte for byte, nothing written beside it', (_what, edit) => {
    const { dir, path, nextLine } = logWith(3);
    writeFileSync(path, edit(readFileSync(path, 'utf8')) + nextLine.slice(0, 40));
    const before = readFileSync(path);
    let thrown: unknown;
    try {
      AuditLog.open(path, { now: () => AT });
    } catch (err) {
      thrown = err;
    }
    expect(isFedtuneError(thrown) && thrown.code).toBe('persistence');
    expect((thrown as Error).message).toMatch(/is broken, so its chain cannot be continued: audit log broken at line 2/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(asideFiles(dir)).toEqual([]);
  });

  it('recoverTornTail leaves a log that ends with a newline alone (its faults are not a torn tail)', () => {
    const { dir, path } = logWith(2);
    appendFileSync(path, '{"not":"an entry"}\n');
    const before = readFileSync(path);
    expect(recoverTornTail(path, before)).toBeUndefined();
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(asideFiles(dir)).toEqual([]);
    expect(existsSync(path)).toBe(true);
  });

  it('the recovery is a run-level entry: every site\'s copy of the log holds it whole', () => {
    const { path, nextLine } = logWith(2);
    appendFileSync(path, nextLine.slice(0, 11));
    AuditLog.open(path, { now: () => AT }).close();
    const recovery = entries(path).at(-1)!;
    expect(siteViewOfAuditEntry(recovery, 'site-7')).toEqual(recovery);
  });
});
