import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { chainAuditEntry, FedtuneError, GENESIS_PREV, MAX_AUDIT_LINE_CHARS, verifyAuditChain, type AuditEntryType, type AuditHead } from '@fedtune/shared';
import { fsyncDir } from '../persistence/write-file-durable.ts';
import { WriteBatch } from '../persistence/write-batch.ts';
import { recoverTornTail, type TornTailRecovery } from './torn-tail.ts';

/** The audit log's file in a run directory. */
export const AUDIT_FILE = 'audit.jsonl';

/** SHA-256 (hex) of a string's UTF-8 bytes with node:crypto: the same digest as shared's pure-JS sha256Hex, natively. */
export function nativeSha256Hex(text: string): string {
  // A string is hashed as its UTF-8 bytes (node:crypto's default for strings).
  return createHash('sha256').update(text).digest('hex');
}

export interface AuditLogOptions {
  /** Told when a batch could not be written (the run goes on; the log then breaks at resume, loudly). */
  onWriteError?: (err: unknown) => void;
  now?: () => Date;
  /** The asynchronous fsync of a batch (default node:fs fsync, on libuv's threads); tests observe it. */
  fsync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  /** Told, in one line, when opening recovered a log whose last line a crash had cut short (torn-tail.ts). */
  onRecovered?: (message: string) => void;
  /** Writes bytes at the end of the file, returning how many were written (default node:fs writeSync); tests make it fail. */
  write?: (fd: number, bytes: Uint8Array) => number;
}

/** Bytes of entries kept in memory while the disk refuses them (a full disk), written with the next batch that goes through. */
export const AUDIT_UNWRITTEN_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * The coordinator's append-only, hash-chained audit log of a run (`<runsDir>/<runId>/audit.jsonl`; format:
 * docs/audit.md). Entries are chained in memory as they are appended and written in batches, one write per
 * event-loop tick, so a burst of joins or updates costs one write; the batch's fsync runs on libuv's threads
 * (at most one at a time; batches written meanwhile share the next one), so the event loop never waits on
 * the disk for it. `flushAsync()` writes what is pending and resolves once it is fsync'd: the durable point
 * before a round's model is published and in each round's report; `flush()` does the same synchronously (at
 * close). An existing file is
 * verified whole when opened and its chain continued; a broken one is an error, never rewritten.
 */
export class AuditLog {
  private readonly fd: number;
  private readonly batch: WriteBatch<string>;
  private seq: number;
  private prev: string;
  private closed = false;

  private constructor(readonly path: string, head: AuditHead, private readonly options: AuditLogOptions) {
    this.seq = head.count;
    this.prev = head.head;
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: a directory's fsync is observable only after a power loss
    if (head.count === 0) fsyncDir(dirname(path));
    this.batch = new WriteBatch<string>((lines) => this.writeLines(lines), 512, (err) => options.onWriteError?.(err));
  }

  /**
   * Opens `path`, continuing the chain it holds (verified first), or starts a new chain. A log whose only fault is
   * a last line cut short by a crash is recovered first (the tail completed or moved aside: torn-tail.ts) and the
   * recovery is the chain's next entry ('recovery', written and fsync'd before this returns); any other fault is
   * an error and the file is left as it was.
   */
  static open(path: string, options: AuditLogOptions = {}): AuditLog {
    let head: AuditHead = { count: 0, head: GENESIS_PREV };
    let recovery: TornTailRecovery | undefined;
    if (existsSync(path)) {
      const bytes = readFileSync(path);
      const verdict = verifyAuditChain(bytes.toString('utf8'));
      if (verdict.ok) head = { count: verdict.count, head: verdict.head };
      else {
        recovery = recoverTornTail(path, bytes);
        if (!recovery) {
          throw new FedtuneError('persistence', `the run's audit log ${path} is broken, so its chain cannot be continued: ${verdict.message} (keep it as evidence; move it aside to start a new log)`);
        }
        head = recovery.head;
      }
    }
    const log = new AuditLog(path, head, options);
    if (recovery) {
      log.append('recovery', { ...recovery.facts });
      log.flush();
      options.onRecovered?.(recovery.message);
    }
    return log;
  }

  /** Where the chain stands, written or not. */
  head(): AuditHead {
    return { count: this.seq, head: this.prev };
  }

  /**
   * Appends an entry to the chain; it reaches the disk with its batch (or at `flush`). After `close` (the run ended):
   * ignored. An entry whose line is longer than a verifier reads (MAX_AUDIT_LINE_CHARS: e.g. a secure-aggregation
   * round of 10,000 sites with 128-character ids) is not chained — written, it would break the whole log at resume
   * and for every site — and is reported to onWriteError instead.
   */
  append(type: AuditEntryType, data: Record<string, unknown>): void {
    if (this.closed) return;
    const entry = chainAuditEntry(this.seq, this.prev, type, data, (this.options.now?.() ?? new Date()).toISOString(), nativeSha256Hex);
    const line = JSON.stringify(entry);
    if (line.length > MAX_AUDIT_LINE_CHARS) {
      this.options.onWriteError?.(new FedtuneError('persistence', `audit entry ${this.seq} (${type}) not written: its line has ${line.length} characters, more than the ${MAX_AUDIT_LINE_CHARS} a verifier reads`));
      return;
    }
    this.seq++;
    this.prev = entry.hash;
    this.batch.add(`${line}\n`);
  }

  /** Writes and fsyncs every pending entry now (synchronously: durable when it returns). After `close`: nothing to do. */
  flush(): void {
    // Closed: everything was written and fsync'd by close, and the descriptor is closed (its number may be another file's now).
    if (this.closed) return;
    this.flushing = true;
    try {
      this.writePending();
    } finally {
      this.flushing = false;
    }
    fsyncSync(this.fd);
  }

  /**
   * Writes every pending entry now and resolves once they are fsync'd — the durable point of `flush`, with the
   * fsync on libuv's threads so the event loop does not wait on the disk (a round's end, every round). A failed
   * fsync is reported to onWriteError, as a batch's. After `close`: resolves at once.
   */
  async flushAsync(): Promise<void> {
    if (this.closed) return;
    this.writePending();
    await this.synced();
  }

  /** Resolves once every batch written so far has been fsync'd (or its fsync failed, reported to onWriteError). */
  synced(): Promise<void> {
    if (!this.syncing) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /**
   * Stops writing at once, the entries not yet written dropped: the node no longer leads the run (its lease went to
   * another node, which continues the chain from what is on disk). Written, they would land after the new leader's
   * entries and break the chain for everyone (cluster failover under load: a 'leave' per site of the old leader
   * and its 'complete', seq numbers the new leader had already used). Later appends are ignored, as after close.
   */
  abandon(): void {
    if (this.closed) return;
    this.batch.discard();
    this.closed = true;
    if (!this.syncing) closeSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      // An fsync still running on libuv's threads holds the descriptor: close it when that one ends.
      if (!this.syncing) closeSync(this.fd);
    }
  }

  /** Inside flush(): its own fsync follows at once, no asynchronous one. */
  private flushing = false;
  private syncing = false;
  private syncAgain = false;
  private waiting: Array<() => void> = [];

  /** The file's length up to the last whole line written (the log on disk is always whole lines of one chain). */
  private size: number;
  /** Lines of a batch the disk refused: written before the next batch's, so the chain on disk never has a gap. */
  private unwritten = '';

  /** Writes the pending batch, or, with none pending, what the disk refused before (a durable point must include it). */
  private writePending(): void {
    if (this.batch.size > 0) this.batch.flush();
    else if (this.unwritten !== '') this.writeLines([]);
  }

  private writeLines(lines: readonly string[]): void {
    const text = this.unwritten + lines.join('');
    const bytes = Buffer.from(text);
    const write = this.options.write ?? ((fd: number, b: Uint8Array) => writeSync(fd, b));
    let off = 0;
    try {
      // A short write (a full disk, a signal) continues with the bytes not yet written.
      while (off < bytes.length) off += write(this.fd, bytes.subarray(off));
    } catch (err) {
      // The part of the batch that reached the file is cut off again, so no line is left half written before the
      // lines that follow; the batch is kept and written ahead of the next one (the disk may have room again by then).
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: with nothing written, cutting the file back to its length changes nothing
      if (off > 0) {
        try {
          ftruncateSync(this.fd, this.size);
        } catch {
          // The file keeps a torn last line: the next open recovers it (torn-tail.ts).
        }
      }
      // Stryker disable next-line EqualityOperator: equivalent: exactly the limit held back is a boundary no entry sizes reach on purpose
      if (bytes.length > AUDIT_UNWRITTEN_LIMIT_BYTES) {
        // Too much held back: the log stops here, a valid chain up to its last written entry (a resume continues it).
        // Stryker disable next-line StringLiteral: equivalent: a stopped log never writes again, so what it held is never read
        this.unwritten = '';
        this.batch.discard();
        this.closed = true;
        if (!this.syncing) closeSync(this.fd);
        let held = 0;
        // Stryker disable next-line EqualityOperator: equivalent: every held line ends with a newline, none starts with one
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) held++;
        // Stryker disable next-line OptionalChaining: equivalent: node:fs throws Error objects
        throw new FedtuneError('persistence', `the audit log stopped after ${this.seq - held} entries: ${bytes.length} bytes of entries could not be written (${String((err as Error)?.message ?? err).slice(0, 200)})`);
      }
      this.unwritten = text;
      throw err;
    }
    this.size += bytes.length;
    this.unwritten = '';
    if (!this.flushing) this.syncSoon();
  }

  /** One asynchronous fsync at a time; batches written while one runs are covered by the next. */
  private syncSoon(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    (this.options.fsync ?? fsync)(this.fd, (err) => {
      if (err && !this.closed) this.options.onWriteError?.(err);
      if (this.syncAgain && !this.closed) {
        this.syncAgain = false;
        this.syncing = false;
        this.syncSoon();
        return;
      }
      this.syncing = false;
      this.syncAgain = false;
      if (this.closed) closeSync(this.fd);
      for (const resolve of this.waiting.splice(0)) resolve();
    });
  }
}
