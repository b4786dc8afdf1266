import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { FedtuneError, type RoundRecord, type RunReport } from '@fedtune/shared';

const RUN_ID = /^[A-Za-z0-9._-]+$/;
/** Files the coordinator keeps beside the runs (the run and token database). */
const RESERVED_RUN_ID = /^fedtune\.db(-wal|-shm|-journal)?$/i;

/** Read access to `runs/<run-id>/` directories on disk. */
export class RunStore {
  /** Per run: the report file's identity (path, inode, size, mtime) when it was last indexed, and its index. */
  private readonly indexes = new Map<string, { stamp: string; index: RunIndex }>();

  constructor(readonly root: string) {}

  runDir(runId: string): string {
    if (!RUN_ID.test(runId) || runId === '.' || runId === '..') throw new FedtuneError('not_found', `invalid run id "${runId}"`);
    return join(this.root, runId);
  }

  /**
   * The directory for a new run. Refuses (config) ids that are or could become something else in the runs
   * directory: the database (`fedtune.db` and its `-wal`/`-shm`/`-journal` files), hidden names, any file.
   */
  newRunDir(runId: string): string {
    if (!RUN_ID.test(runId)) throw new FedtuneError('config', 'invalid run id: use letters, digits, ".", "_" or "-"');
    if (runId.startsWith('.') || RESERVED_RUN_ID.test(runId)) throw new FedtuneError('config', `run id "${runId}" is reserved (it names a file of the runs directory): choose another`);
    const dir = join(this.root, runId);
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new FedtuneError('config', `run id "${runId}" names a file in the runs directory: choose another`);
    return dir;
  }

  /**
   * Every run on disk as the runs listing shows it, newest first. Reads a report only when it changed since
   * the last call (the listing is open to anyone, and reports of large runs are tens of MB).
   */
  summaries(): RunSummary[] {
    if (!existsSync(this.root)) return [];
    const out: Array<{ when: string; summary: RunSummary }> = [];
    const seen = new Set<string>();
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      seen.add(entry.name);
      const index = this.tryIndex(entry.name);
      if (index) out.push(index);
    }
    for (const runId of this.indexes.keys()) if (!seen.has(runId)) this.indexes.delete(runId);
    return out.sort((a, b) => (a.when < b.when ? 1 : -1)).map((r) => r.summary);
  }

  private tryIndex(runId: string): RunIndex | undefined {
    try {
      return this.index(runId);
    } catch {
      return undefined;
    }
  }

  /** What the open routes need of a run's report (runIndex), read again only when its file changes. */
  private index(runId: string): RunIndex {
    const dir = this.runDir(runId);
    const file = [join(dir, 'report.json'), join(dir, 'config.json')].map((path) => ({ path, stat: statSync(path, { throwIfNoEntry: false }) })).find((f) => f.stat);
    if (!file?.stat) throw new FedtuneError('not_found', `run ${runId} not found`);
    const stamp = `${file.path}:${file.stat.ino}:${file.stat.size}:${file.stat.mtimeMs}`;
    const kept = this.indexes.get(runId);
    if (kept?.stamp === stamp) return kept.index;
    const index = runIndex(this.read(runId));
    this.indexes.set(runId, { stamp, index });
    return index;
  }

  /** The run's report.json; for a run created over HTTP and not started yet, its config with status 'created'. */
  read(runId: string): RunReport {
    const dir = this.runDir(runId);
    const path = join(dir, 'report.json');
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as RunReport;
    const configPath = join(dir, 'config.json');
    if (!existsSync(configPath)) throw new FedtuneError('not_found', `run ${runId} not found`);
    const created: CreatedRunReport = {
      runId,
      status: 'created',
      createdAt: statSync(configPath).mtime.toISOString(),
      config: JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>,
      rounds: [],
    };
    return created as unknown as RunReport;
  }

  /** Path of a file of the run's latest global model (`model.json` or `weights.bin`). */
  latestModelFile(runId: string, file: string): string {
    checkModelFile(file);
    const dir = this.index(runId).finalModelDir;
    if (!dir) throw new FedtuneError('not_found', `run ${runId} has no global model yet`);
    return this.fileInRun(runId, dir, file);
  }

  /** The run's completed rounds, in order (report.json). */
  rounds(runId: string): RoundRecord[] {
    return this.read(runId).rounds;
  }

  /** Path of a file (`model.json` or `weights.bin`) of the global model saved after `round`. */
  roundModelFile(runId: string, round: number, file: string): string {
    checkModelFile(file);
    const dir = this.index(runId).roundModelDirs.get(round);
    if (dir === undefined) throw new FedtuneError('not_found', `run ${runId} has no completed round ${round}`);
    return this.fileInRun(runId, dir, file);
  }

  /** `<runDir>/<dir>/<file>`, refused unless it stays inside the run directory and exists. */
  private fileInRun(runId: string, dir: string, file: string): string {
    const runDir = resolve(this.runDir(runId));
    const path = resolve(runDir, dir, file);
    if (!path.startsWith(runDir + sep)) throw new FedtuneError('not_found', 'model path escapes the run directory');
    if (!existsSync(path)) throw new FedtuneError('not_found', `run ${runId}: ${dir}/${file} is missing`);
    return path;
  }
}

/** A run as `GET /api/runs` lists it. */
export interface RunSummary {
  runId: string;
  status: string;
  startedAt?: string;
  /** Completed rounds. */
  rounds: number;
  accuracy?: number;
}

/** What the open routes need of a report: the listing's row, its date, and where its global models are. */
interface RunIndex {
  when: string;
  summary: RunSummary;
  finalModelDir?: string;
  roundModelDirs: Map<number, string>;
}

function runIndex(r: RunReport): RunIndex {
  return {
    when: r.startedAt ?? (r as unknown as CreatedRunReport).createdAt,
    summary: { runId: r.runId, status: r.status, startedAt: r.startedAt, rounds: r.rounds.length, accuracy: r.final?.accuracy },
    finalModelDir: r.final?.modelDir,
    // The first record of a round, as `rounds.find` read it.
    roundModelDirs: new Map([...r.rounds].reverse().map((x) => [x.round, x.modelDir])),
  };
}

/** A run created (`POST /api/runs`, `runs/<id>/config.json`) but not started: no report.json yet. */
export interface CreatedRunReport {
  runId: string;
  status: 'created';
  createdAt: string;
  config: Record<string, unknown>;
  rounds: [];
}

function checkModelFile(file: string): asserts file is 'model.json' | 'weights.bin' {
  if (file !== 'model.json' && file !== 'weights.bin') throw new FedtuneError('not_found', `no model file "${file}" (model.json or weights.bin)`);
}
