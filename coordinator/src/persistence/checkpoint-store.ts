import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FedtuneError, toFedtuneError } from '@fedtune/shared';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointHeader, type Checkpoint } from './checkpoint-format.ts';
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
 */
export class CheckpointStore {
  readonly dir: string;
  readonly keep: number;

  constructor(
    readonly runDir: string,
    options: CheckpointStoreOptions = {},
  ) {
    this.dir = join(runDir, 'checkpoints');
    this.keep = Math.max(1, Math.floor(options.keep ?? 3));
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
    const { chunks, bytes } = encodeCheckpoint(ckpt);
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
    const bytes = readFileSync(path);
    try {
      return decodeCheckpoint(bytes);
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
        const checkpoint = this.readFile(file.path);
        if (checkpoint.round !== file.round) throw new FedtuneError('codec', `file name says round ${file.round} but the checkpoint holds round ${checkpoint.round}`);
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

  /** Deletes every checkpoint beyond the newest `keep`, and temporary files of dead writers older than a minute. */
  prune(): void {
    for (const file of this.list().slice(this.keep)) rmSync(file.path, { force: true });
    removeStaleTempFiles(this.dir, 60_000);
  }

  /** Deletes checkpoints of rounds after `round` (when a resume goes back past a corrupted newest one). */
  discardAfter(round: number): void {
    for (const file of this.list()) if (file.round > round) rmSync(file.path, { force: true });
  }
}
