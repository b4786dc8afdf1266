import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { verifyAuditChain, type AuditHead } from '@fedtune/shared';
import { moveTailAside } from '@fedtune/shared/node';
import { fsyncDir } from '../persistence/write-file-durable.ts';

/** What a torn tail was and what was done with it: the data of the log's 'recovery' entry. */
export interface TornTailFacts {
  reason: 'torn-tail';
  /** The seq of the last whole entry before the tail (-1: the log held none). */
  afterSeq: number;
  /** The tail's length in bytes and SHA-256: the tail itself never enters the log. */
  bytes: number;
  sha256: string;
  /** 'completed': the tail was a whole entry whose newline was cut off (kept); 'moved-aside': the tail was cut from the log into `savedAs`. */
  action: 'completed' | 'moved-aside';
  /** The file (next to the log) holding the tail, when moved aside. */
  savedAs?: string;
}

export interface TornTailRecovery {
  /** Where the chain stands after the recovery. */
  head: AuditHead;
  facts: TornTailFacts;
  /** One line for the operator. */
  message: string;
}

const NEWLINE = 0x0a;

/** Appends `bytes` to the file and fsyncs it. */
function appendDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'a');
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes.subarray(off));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Recovers an audit log whose only fault is its last line cut short — what a power loss or a crash in the
 * middle of a batch's write leaves (the batch was not fsync'd, so no durable point covered it). Every whole
 * line must verify as a chain; otherwise (an edit, a deletion, a broken line before the end) it returns
 * undefined and the log stays exactly as it was. A tail that is a whole entry missing only its newline is
 * completed; any other tail is copied to `<log>.torn-<seq>` (fsync'd, kept as evidence) and cut from the log.
 * The caller records the returned facts as the chain's next entry, so the log says what happened.
 */
export function recoverTornTail(path: string, bytes: Buffer): TornTailRecovery | undefined {
  const end = bytes.lastIndexOf(NEWLINE) + 1;
  if (end === bytes.length) return undefined;
  const kept = verifyAuditChain(bytes.subarray(0, end).toString('utf8'));
  if (!kept.ok) return undefined;
  const tail = bytes.subarray(end);
  const sha256 = createHash('sha256').update(tail).digest('hex');
  const afterSeq = kept.count - 1;
  const whole = verifyAuditChain(`${bytes.toString('utf8')}\n`);
  if (whole.ok) {
    appendDurably(path, Buffer.from('\n'));
    return {
      head: { count: whole.count, head: whole.head },
      facts: { reason: 'torn-tail', afterSeq, bytes: tail.length, sha256, action: 'completed' },
      message: `the audit log's last entry (seq ${whole.count - 1}) had lost its newline in a crash: completed, and recorded in the log`,
    };
  }
  const aside = moveTailAside(path, bytes, end, `${path}.torn-${afterSeq + 1}`);
  fsyncDir(dirname(path));
  return {
    head: { count: kept.count, head: kept.head },
    facts: { reason: 'torn-tail', afterSeq, bytes: tail.length, sha256, action: 'moved-aside', savedAs: basename(aside) },
    message: `the audit log's last line was cut short by a crash (${tail.length} bytes after seq ${afterSeq}): moved aside to ${basename(aside)}, and recorded in the log`,
  };
}
