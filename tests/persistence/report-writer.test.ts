import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPORT_HTML_INTERVAL_MS, ReportWriter } from '@fedtune/coordinator';
import { startTestFederation, tempDir } from '../helpers/federation.ts';
import { makeReport, makeRound } from './helpers.ts';

const readReport = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { status: string; rounds: unknown[]; updatedAt: string };

describe('report writes off the critical path (report-writer.ts)', () => {
  it('returns before writing, coalesces a burst to the latest report and snapshots it', async () => {
    const dir = tempDir();
    const writer = new ReportWriter(dir);
    const report = makeReport('run-a', 1);
    writer.schedule(report);
    // Nothing is written in the caller's tick: the round goes on at once.
    expect(existsSync(join(dir, 'report.json'))).toBe(false);
    report.updatedAt = 'second';
    writer.schedule(report);
    report.updatedAt = 'third';
    writer.schedule(report);
    // A change after the last schedule is not in the file (a snapshot was taken): the top-level fields, the
    // status and the list of rounds (the engine pushes the next round, replaces final and status).
    report.updatedAt = 'not scheduled';
    report.status = 'complete';
    report.rounds.push(makeRound(2));
    report.final = { accuracy: 1, loss: 0, modelDir: 'm', round: 2 };
    await writer.idle();
    expect(writer.written).toBe(1);
    const written = readReport(dir) as ReturnType<typeof readReport> & { final?: unknown };
    expect([written.updatedAt, written.status, written.rounds.length, written.final]).toEqual(['third', 'running', 1, undefined]);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/<\/html>\s*$/);
  });

  it('writeNow waits for the write in flight, then writes the final report completely', async () => {
    const dir = tempDir();
    const writer = new ReportWriter(dir);
    writer.schedule(makeReport('run-a', 1));
    const final = { ...makeReport('run-a', 2), status: 'complete' as const };
    await writer.writeNow(final);
    expect(readReport(dir)).toMatchObject({ status: 'complete' });
    expect(readReport(dir).rounds).toHaveLength(2);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toMatch(/<\/html>\s*$/);
    await writer.idle();
    // The earlier, scheduled report never overwrites the final one.
    expect(readReport(dir)).toMatchObject({ status: 'complete' });
  });

  it('a failed background write is thrown by the next schedule, naming its round; the final write is tried again', async () => {
    const dir = tempDir();
    const writer = new ReportWriter(dir);
    mkdirSync(join(dir, 'report.json'));
    writer.schedule(makeReport('run-a', 3));
    await writer.idle();
    expect(() => writer.schedule(makeReport('run-a', 4))).toThrow(expect.objectContaining({ code: 'persistence', message: expect.stringMatching(/^cannot save the report after round 3: /) }));
    await writer.idle();
    rmSync(join(dir, 'report.json'), { recursive: true });
    await writer.writeNow({ ...makeReport('run-a', 4), status: 'complete' });
    expect(readReport(dir)).toMatchObject({ status: 'complete' });
    const blocked = new ReportWriter(join(dir, 'report.json'));
    await expect(blocked.writeNow(makeReport('run-a', 1))).rejects.toMatchObject({ code: 'persistence', message: expect.stringMatching(/^cannot save the final report: /) });
  });

  it.each([
    // [htmlIntervalMs, clock at each of 4 scheduled writes, renders before the final one]
    [15_000, [0, 5_000, 14_999, 15_000], 2],
    [15_000, [0, 1, 2, 3], 1],
    [0, [0, 0, 0, 0], 4],
    [1_000, [0, 1_000, 2_000, 2_999], 3],
  ] as const)('report.html during the run at most every %i ms (clock %j → %i renders); report.json every time; the final write always renders', async (htmlIntervalMs, clock, renders) => {
    const dir = tempDir();
    let t = 0;
    const writer = new ReportWriter(dir, { htmlIntervalMs, now: () => t });
    for (const [k, at] of clock.entries()) {
      t = at;
      writer.schedule({ ...makeReport('run-a', k + 1), updatedAt: `write ${k}` });
      await writer.idle();
      expect(readReport(dir).updatedAt).toBe(`write ${k}`);
    }
    expect(writer.written).toBe(4);
    expect(writer.htmlWritten).toBe(renders);
    // The html on disk is the last one rendered (it names that write's rounds), not necessarily the last report.
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/<\/html>\s*$/);
    t = clock[3];
    await writer.writeNow({ ...makeReport('run-a', 5), status: 'complete' });
    expect(writer.htmlWritten).toBe(renders + 1);
  });

  it('the default interval is REPORT_HTML_INTERVAL_MS (15 s): two writes a second apart render once', async () => {
    expect(REPORT_HTML_INTERVAL_MS).toBe(15_000);
    const dir = tempDir();
    let t = 1_000_000;
    const writer = new ReportWriter(dir, { now: () => t });
    writer.schedule(makeReport('run-a', 1));
    await writer.idle();
    t += 1_000;
    writer.schedule(makeReport('run-a', 2));
    await writer.idle();
    expect(writer.htmlWritten).toBe(1);
    t += REPORT_HTML_INTERVAL_MS;
    writer.schedule(makeReport('run-a', 3));
    await writer.idle();
    expect(writer.htmlWritten).toBe(2);
  });

  it('a report with no rounds yet writes no report.html, and does not use up the interval', async () => {
    const dir = tempDir();
    const writer = new ReportWriter(dir, { now: () => 0 });
    writer.schedule(makeReport('run-a', 0));
    await writer.idle();
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
    writer.schedule(makeReport('run-a', 1));
    await writer.idle();
    expect(writer.htmlWritten).toBe(1);
  });

  it('a run completes only once its final report.json and report.html are on disk', async () => {
    const runsDir = tempDir();
    const seen: Array<{ status: string; html: boolean }> = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 2,
      transport: 'memory',
      runsDir,
      maxSiteExamples: 60,
      holdoutExamples: 100,
      config: { federatedEvaluation: 'never' },
      onEvent: (event) => {
        if (event.type !== 'complete') return;
        const dir = join(runsDir, event.report.runId);
        seen.push({ status: readReport(dir).status, html: existsSync(join(dir, 'report.html')) });
      },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status).toBe('complete');
    // At the moment the run reports completion, the files already say so.
    expect(seen).toEqual([{ status: 'complete', html: true }]);
    const onDisk = readReport(coordinator.runDir);
    expect(onDisk.rounds).toHaveLength(2);
    expect(readFileSync(join(coordinator.runDir, 'report.html'), 'utf8')).toContain('accuracy per round');
  }, 120_000);
});
