import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { FedtuneError, type RoundRecord } from '@fedtune/shared';
import { makeDirectories } from '@fedtune/shared/node';
import { decodeState } from './state-codec.ts';
import { fsyncDirAsync } from './write-file-durable.ts';

/**
 * The settled round records of a run's checkpoints, in an append-only file beside them
 * (`checkpoints/settled-rounds-<hex>.jsonl`): one line per record, its checkpoint encoding (`encodeState(record).json`,
 * which has no raw newline). A checkpoint holds only the records after them and refers to the file by a
 * `SettledRoundsRef` — how many lines and bytes of it are its rounds, and the hash chain over those lines — which its
 * own SHA-256 covers, so every round a checkpoint restores is verified. Each round appends only the records settled
 * since the last checkpoint: the checkpoint's cost no longer grows with the rounds (a checkpoint used to embed every
 * round's text in its meta and hash all of it again).
 *
 * Crash consistency: lines are written at the end of the prefix the last checkpoint refers to (never over it) and
 * fsync'd before the checkpoint that refers to them is written, so a crash between the two leaves lines no checkpoint
 * refers to, which the next append writes over. Older checkpoints refer to shorter prefixes of the same file. A log
 * that cannot continue the one on disk (a new run's store, or records that differ from the file's) starts a new file;
 * the store deletes files no kept checkpoint refers to (checkpoint-store.ts).
 *
 * Chain: `h_0` is 32 zero bytes and `h_i = SHA-256(h_(i-1) ‖ SHA-256(line_i))`, each line with its '\n'.
 */

/** Where a checkpoint's first `count` round records are: the first `count` lines (`bytes` bytes) of `file`. */
export interface SettledRoundsRef {
  /** The file's name in the checkpoints directory. */
  file: string;
  count: number;
  bytes: number;
  /** Hex `h_count` of the hash chain over those lines. */
  sha256: string;
}

/** What the log knows of its file: the prefix the last checkpoint referred to, with each line's digest. */
export interface SettledRoundsState {
  file: string;
  bytes: number;
  chain: Buffer;
  /** SHA-256 of each line. */
  digests: Buffer[];
  /** The records the lines were written from (or matched against), by identity; undefined until matched. */
  records: Array<RoundRecord | undefined>;
}

const FILE = /^settled-rounds-[0-9a-f]{8}\.jsonl$/;
const NEWLINE = 0x0a;

/** Whether `name` is a settled-rounds file's name. */
export function isSettledRoundsFile(name: string): boolean {
  return FILE.test(name);
}

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

const lineOf = (json: string): Buffer => Buffer.from(`${json}\n`);

/**
 * Reads and verifies the records `ref` refers to in `dir`. Throws FedtuneError('codec') when the file is missing,
 * shorter than the reference, or its lines do not hash to the reference's chain.
 */
export function readSettledRounds(dir: string, ref: SettledRoundsRef): { records: RoundRecord[]; state: SettledRoundsState } {
  if (typeof ref?.file !== 'string' || !isSettledRoundsFile(ref.file) || !Number.isInteger(ref.count) || !Number.isInteger(ref.bytes) || ref.count < 0 || ref.bytes < 0 || typeof ref.sha256 !== 'string') {
    throw new FedtuneError('codec', 'checkpoint refers to its settled rounds with a malformed reference');
  }
  const path = join(dir, ref.file);
  if (!existsSync(path)) throw new FedtuneError('codec', `the settled rounds file ${ref.file} the checkpoint refers to is missing`);
  const bytes = readFileSync(path);
  if (bytes.byteLength < ref.bytes) throw new FedtuneError('codec', `settled rounds file ${ref.file} is ${bytes.byteLength} bytes, the checkpoint refers to ${ref.bytes} (truncated)`);
  const digests: Buffer[] = [];
  const lines: Buffer[] = [];
  let chain: Buffer = Buffer.alloc(32);
  for (let start = 0; start < ref.bytes; ) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end < 0 || end >= ref.bytes) throw new FedtuneError('codec', `settled rounds file ${ref.file}: the checkpoint's prefix does not end at a line's end`);
    const line = bytes.subarray(start, end + 1);
    const digest = sha256(line);
    chain = sha256(chain, digest);
    digests.push(digest);
    lines.push(line);
    start = end + 1;
  }
  if (digests.length !== ref.count) throw new FedtuneError('codec', `settled rounds file ${ref.file} holds ${digests.length} lines in the checkpoint's prefix, the checkpoint says ${ref.count}`);
  if (chain.toString('hex') !== ref.sha256) throw new FedtuneError('codec', `settled rounds file ${ref.file} fails its hash chain (the checkpoint's rounds were changed)`);
  const records = lines.map((line) => decodeState(line.subarray(0, -1).toString('utf8'), []) as RoundRecord);
  return { records, state: { file: ref.file, bytes: ref.bytes, chain, digests, records: records.map(() => undefined) } };
}

/** Appends a run's settled round records to its settled-rounds file (see above). One per checkpoint store. */
export class SettledRoundsLog {
  private state: SettledRoundsState | undefined;
  /** Appends run one after the other. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  /** The file the log appends to now, if any. */
  get file(): string | undefined {
    return this.state?.file;
  }

  /** Continues the file a verified checkpoint refers to (`readSettledRounds(…).state`): the next append writes after its prefix. */
  adopt(state: SettledRoundsState): void {
    // Stryker disable next-line ArrayDeclaration: equivalent: a verified file's records are all unmatched (undefined), as an empty list is.
    this.state = { ...state, digests: [...state.digests], records: [...state.records] };
  }

  /**
   * Makes the file's first lines `records` (settled, in order) — appending those after the ones it has, fsync'd —
   * and returns the reference a checkpoint stores. `encode` is the record's checkpoint encoding (cached for a settled
   * record). A checkpoint written after this resolves can refer to the lines; one written before still can too.
   */
  append(records: readonly RoundRecord[], encode: (record: RoundRecord) => string): Promise<SettledRoundsRef> {
    const next = this.queue.then(() => this.appendNow(records, encode));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async appendNow(records: readonly RoundRecord[], encode: (record: RoundRecord) => string): Promise<SettledRoundsRef> {
    let state = this.state && this.continues(this.state, records, encode) ? this.state : undefined;
    const fresh = state === undefined;
    state ??= { file: `settled-rounds-${randomBytes(4).toString('hex')}.jsonl`, bytes: 0, chain: Buffer.alloc(32), digests: [], records: [] };
    const lines: Buffer[] = [];
    const digests: Buffer[] = [];
    let chain = state.chain;
    for (let i = state.digests.length; i < records.length; i++) {
      const line = lineOf(encode(records[i]));
      const digest = sha256(line);
      chain = sha256(chain, digest);
      lines.push(line);
      digests.push(digest);
    }
    const bytes = state.bytes + lines.reduce((n, l) => n + l.byteLength, 0);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: with no lines, opening, truncating to the same length and syncing changes nothing.
    if (lines.length > 0 || fresh) {
      makeDirectories(this.dir);
      const path = join(this.dir, state.file);
      const handle = await open(path, fresh ? 'w' : 'r+');
      try {
        let at = state.bytes;
        for (const line of lines) {
          for (let off = 0; off < line.byteLength; ) {
            // Stryker disable next-line ArithmeticOperator: equivalent: a regular file's write is whole (off is 0), a short write is not reproducible here.
            const { bytesWritten } = await handle.write(line, off, line.byteLength - off, at);
            off += bytesWritten;
            at += bytesWritten;
          }
        }
        // Lines a crashed write left after the prefix go; the checkpoint that refers to these lines comes after the fsync.
        await handle.truncate(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Stryker disable next-line ConditionalExpression: equivalent in a test: the directory's fsync matters only across a power loss.
      if (fresh) await fsyncDirAsync(this.dir);
    }
    // Only now, with the lines on disk: a failed write leaves the log where it was (the next append writes them again).
    for (let i = state.digests.length; i < records.length; i++) state.records.push(records[i]);
    state.digests.push(...digests);
    state.bytes = bytes;
    state.chain = chain;
    this.state = state;
    return { file: state.file, count: records.length, bytes, sha256: chain.toString('hex') };
  }

  /**
   * Whether `records` begin with the lines the file has: each the very record written (or matched before), or one that
   * encodes to the same line (a resumed run's records, decoded from the checkpoint). Pointer checks after the first call.
   */
  private continues(state: SettledRoundsState, records: readonly RoundRecord[], encode: (record: RoundRecord) => string): boolean {
    if (records.length < state.digests.length) return false;
    for (let i = 0; i < state.digests.length; i++) {
      if (state.records[i] === records[i]) continue;
      if (!sha256(lineOf(encode(records[i]))).equals(state.digests[i])) return false;
      state.records[i] = records[i];
    }
    return true;
  }
}
