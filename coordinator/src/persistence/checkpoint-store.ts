import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FedtuneError, toFedtuneError } from '@fedtune/shared';
import { decodeCheckpoint, encodeCheckpoint, encodeReportPart, readCheckpointHeader, type Checkpoint } from './checkpoint-format.ts';
import { settledPrefixLength, takeRoundRecordJson } from './settled-rounds.ts';
import { isSettledRoundsFile, readSettledRounds, SettledRoundsLog, type SettledRoundsState } from './settled-rounds-log.ts';
import { removeStaleTempFiles, writeFileDurable, type DurableWriteOptions } from './write-file-durable.ts';

export interface CheckpointStoreOptions {
  /** How many of the newest checkpoints to keep (default 3, at least 1). */
  keep?: number;
}

export interface CheckpointFile {
  round: number;
  path: string;
}

export interface CheckpointWarning {
  round: number;
  path: string;
  message: string;
}

export interface LatestCheckpoint {
  /** The newest checkpoint whose checksum verifies; undefined when there is none. */
  checkpoint?: Checkpoint;
  path?: string;
  /** One entry per newer checkpoint that was skipped because it is truncated or corrupted. */
  warnings: CheckpointWarning[];
}

const FILE = /^round-(\d+)\.ckpt$/;

/**
 * `<runDir>/checkpoints/round-N.ckpt`, one per completed round, each written atomically and durably and
 * carrying a SHA-256 of its body. `latest()` returns the newest one that verifies, with a warning for
 * every newer file it had to skip. Only the newest `keep` files are kept.
 *
 * The report's settled round records go to `checkpoints/settled-rounds-<hex>.jsonl` (settled-rounds-log.ts), each
 * appended once and fsync'd before the checkpoint that refers to them: a checkpoint's cost per round does not grow
 * with the rounds. The store continues the file of the checkpoint `latest()` returned (a resumed run), and deletes
 * the files no kept checkpoint refers to.
 */
export class CheckpointStore {
  readonly dir: string;
  readonly keep: number;
  private readonly settledRounds: SettledRoundsLog;

  constructor(
    readonly runDir: string,
    options: CheckpointStoreOptions = {},
  ) {
    this.dir = join(runDir, 'checkpoints');
    this.keep = Math.max(1, Math.floor(options.keep ?? 3));
    this.settledRounds = new SettledRoundsLog(this.dir);
  }

  pathOf(round: number): string {
    return join(this.dir, `round-${round}.ckpt`);
  }

  /** Checkpoint files on disk, newest round first (not verified). */
  list(): CheckpointFile[] {
    if (!existsSync(this.dir)) return [];
    const files: CheckpointFile[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = FILE.exec(name);
      if (m) files.push({ round: Number(m[1]), path: join(this.dir, name) });
    }
    return files.sort((a, b) => b.round - a.round);
  }

  /**
   * Writes the checkpoint of `ckpt.round` atomically (temporary file, fsync, rename, fsync the directory),
   * then deletes checkpoints beyond the newest `keep`. Returns the file's path and size.
   */
  async write(ckpt: Checkpoint, options: DurableWriteOptions = {}): Promise<{ path: string; bytes: number }> {
    if (!Number.isInteger(ckpt.round) || ckpt.round < 0) throw new FedtuneError('internal', `checkpoint round must be a non-negative integer, got ${ckpt.round}`);
    // The settled rounds first, fsync'd: the checkpoint refers to them (a crash in between leaves the previous one whole).
    const settled = settledPrefixLength(ckpt.report.rounds);
    const ref = settled > 0 ? await this.settledRounds.append(ckpt.report.rounds.slice(0, settled), (r) => takeRoundRecordJson(r, encodeReportPart)) : undefined;
    const { chunks, bytes } = encodeCheckpoint(ckpt, ref);
    const path = this.pathOf(ckpt.round);
    await writeFileDurable(path, chunks, options);
    this.prune();
    return { path, bytes };
  }

  /** Reads and verifies the checkpoint of one round. Throws FedtuneError('codec' | 'not_found'). */
  read(round: number): Checkpoint {
    const path = this.pathOf(round);
    if (!existsSync(path)) throw new FedtuneError('not_found', `no checkpoint for round ${round} in ${this.dir}`);
    return this.readFile(path);
  }

  private readFile(path: string): Checkpoint {
    return this.readVerified(path).checkpoint;
  }

  /** A checkpoint with its settled rounds read and verified, and the settled-rounds file's state to continue it. */
  private readVerified(path: string): { checkpoint: Checkpoint; settled?: SettledRoundsState } {
    const bytes = readFileSync(path);
    let settled: SettledRoundsState | undefined;
    try {
      const checkpoint = decodeCheckpoint(bytes, (ref) => {
        const read = readSettledRounds(this.dir, ref);
        settled = read.state;
        return read.records;
      });
      return { checkpoint, settled };
    } catch (err) {
      throw toFedtuneError(err, 'codec');
    }
  }

  /**
   * The newest checkpoint that verifies. A truncated or corrupted newer file is skipped with a warning
   * (never thrown), and the previous good one is returned.
   */
  latest(): LatestCheckpoint {
    const warnings: CheckpointWarning[] = [];
    for (const file of this.list()) {
      try {
        const { checkpoint, settled } = this.readVerified(file.path);
        if (checkpoint.round !== file.round) throw new FedtuneError('codec', `file name says round ${file.round} but the checkpoint holds round ${checkpoint.round}`);
        // A resumed run's next checkpoints continue this one's settled-rounds file after its prefix.
        if (settled) this.settledRounds.adopt(settled);
        return { checkpoint, path: file.path, warnings };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        warnings.push({ round: file.round, path: file.path, message: `checkpoint ${file.path} is unusable, falling back to an older one: ${message}` });
      }
    }
    return { warnings };
  }

  /** Header of a checkpoint file without verifying its body (cheap; for listings). */
  peek(round: number): ReturnType<typeof readCheckpointHeader>['header'] {
    return readCheckpointHeader(readFileSync(this.pathOf(round))).header;
  }

  /**
   * Deletes every checkpoint beyond the newest `keep`, the settled-rounds files neither a kept checkpoint (by its
   * header) nor the store's next write refers to, and temporary files of dead writers older than a minute.
   */
  prune(): void {
    const files = this.list();
    for (const file of files.slice(this.keep)) rmSync(file.path, { force: true });
    const referred = new Set([this.settledRounds.file, ...files.slice(0, this.keep).map((f) => settledRoundsFileOf(f.path))]);
    for (const name of readdirSync(this.dir)) if (isSettledRoundsFile(name) && !referred.has(name)) rmSync(join(this.dir, name), { force: true });
    removeStaleTempFiles(this.dir, 60_000);
  }

  /** Deletes checkpoints of rounds after `round` (when a resume goes back past a corrupted newest one). */
  discardAfter(round: number): void {
    for (const file of this.list()) if (file.round > round) rmSync(file.path, { force: true });
  }
}

/**
 * The settled-rounds file a checkpoint's header names (reading its first bytes only); undefined for none or an
 * unreadable header. A corrupt checkpoint may lose its file this way, and is unusable anyway.
 */
function settledRoundsFileOf(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(64 * 1024);
    const n = readSync(fd, head, 0, head.byteLength, 0);
    return readCheckpointHeader(head.subarray(0, n)).header.settledRounds;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
