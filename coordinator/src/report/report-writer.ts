import { join } from 'node:path';
import { FedtuneError, type RunReport } from '@fedtune/shared';
import { writeFileDurable } from '../persistence/write-file-durable.ts';
import { reportJsonChunks } from '../persistence/settled-rounds.ts';
import { renderReportHtml } from './report-html.ts';

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * During a run, report.html on disk is rendered again at most this often (report.json every time; the final
 * report always renders both). The HTML is for people — the dashboard and GET …/report.html render the latest
 * on demand — and rendering it grows with sites × rounds, so doing it per round cost the coordinator a few
 * percent of a round's CPU at 50–100 sites.
 */
export const REPORT_HTML_INTERVAL_MS = 15_000;

export interface ReportWriterOptions {
  /** Least time between two renders of report.html before the final one (default REPORT_HTML_INTERVAL_MS; 0: every write). */
  htmlIntervalMs?: number;
  /** The clock (default Date.now): tests pass their own. */
  now?: () => number;
}

function persistenceError(what: string, err: unknown): FedtuneError {
  const e = err as NodeJS.ErrnoException;
  const message = String(e?.message ?? err).slice(0, 500);
  return new FedtuneError('persistence', `cannot save ${what}: ${message}${e?.code === 'EACCES' || e?.code === 'EROFS' ? ' (is the run directory writable?)' : ''}`, { cause: err });
}

/**
 * Writes a run's report.json and report.html off the round's critical path. `schedule` takes a snapshot
 * of the report and returns at once; the files are written after the current tick, with fsync on libuv's
 * threads, never blocking the event loop. Writes are coalesced: at most one is pending, and a newer
 * report replaces a pending one (latest wins). A write that fails is thrown by the next `schedule` or
 * `writeNow`, naming the round it was for. `writeNow` (the final report) waits for the write in flight,
 * then writes the given report and resolves once both files are on disk.
 */
export class ReportWriter {
  private pending: RunReport | undefined;
  private running: Promise<void> | undefined;
  private failure: FedtuneError | undefined;
  /** Reports written (not counting those a newer one replaced), and report.html renders, for tests and benchmarks. */
  written = 0;
  htmlWritten = 0;
  private lastHtmlAt: number | undefined;

  constructor(
    private readonly runDir: string,
    private readonly options: ReportWriterOptions = {},
  ) {}

  /** Queues a snapshot of `report` to be written; throws the error of an earlier background write. */
  schedule(report: RunReport): void {
    this.throwFailure();
    // A snapshot of what the engine changes between rounds: its top-level fields and the list of rounds (the next
    // round is pushed, status and final replaced). Shallow: a deep copy (structuredClone) cost O(rounds × sites)
    // of the event loop every round — ~0.4–1 s at 100 rounds of 500 sites, more than the round. What it leaves
    // shared is only ever completed in place (a round's late robustness result), so a write shows it at most early.
    this.pending = { ...report, rounds: report.rounds.slice() };
    this.running ??= this.drain();
  }

  /** Writes `report` now (after the write in flight) and resolves once report.json and report.html are durable. */
  async writeNow(report: RunReport): Promise<void> {
    this.pending = undefined;
    await this.running;
    this.throwFailure();
    try {
      await this.write(report, true);
    } catch (err) {
      throw persistenceError('the final report', err);
    }
  }

  /** Resolves when nothing is pending or in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private throwFailure(): void {
    const failure = this.failure;
    if (!failure) return;
    // Reported once: a later (final) write is attempted again.
    this.failure = undefined;
    throw failure;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        // After the current tick: the round's own work (sending the next 'fit') goes first.
        await nextTick();
        const report = this.pending;
        if (!report) break;
        this.pending = undefined;
        try {
          await this.write(report, false);
        } catch (err) {
          this.failure ??= persistenceError(`the report after round ${report.rounds.at(-1)?.round ?? 0}`, err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private async write(report: RunReport, final: boolean): Promise<void> {
    await writeFileDurable(join(this.runDir, 'report.json'), reportJsonChunks(report));
    const now = (this.options.now ?? Date.now)();
    const due = final || this.lastHtmlAt === undefined || now - this.lastHtmlAt >= (this.options.htmlIntervalMs ?? REPORT_HTML_INTERVAL_MS);
    if (report.rounds.length > 0 && due) {
      await writeFileDurable(join(this.runDir, 'report.html'), [Buffer.from(renderReportHtml(report), 'utf8')]);
      this.lastHtmlAt = now;
      this.htmlWritten++;
    }
    this.written++;
  }
}
