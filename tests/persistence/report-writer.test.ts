import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReportWriter } from '@fedtune/coordinator';
import { startTestFederation, tempDir } from '../helpers/federation.ts';
import { makeReport } from './helpers.ts';

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
    // A change after the last schedule is not in the file (a snapshot was taken).
    report.updatedAt = 'not scheduled';
    await writer.idle();
    expect(writer.written).toBe(1);
    expect(readReport(dir).updatedAt).toBe('third');
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
