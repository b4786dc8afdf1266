import { describe, expect, it } from 'vitest';
import type { RunReport, UpdateEncoding } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

/**
 * The run config's update encoding over real socket.io with 20 sites: every site sends its update in the
 * run's encoding (the first bytes of what it sent), the coordinator accepts all of them, and a round's bytes
 * up fall to ≈ 0.5× (fp16) and ≈ 0.25× (int8) of the same run in float32.
 */
const SITES = 20;

async function run(updateEncoding: UpdateEncoding): Promise<{ report: RunReport; magics: Set<string> }> {
  const magics = new Set<string>();
  const { coordinator, siteRuns } = await startTestFederation({
    sites: SITES,
    rounds: 2,
    seed: 5,
    transport: 'socket',
    maxSiteExamples: 40,
    holdoutExamples: 100,
    config: { runId: `encoding-${updateEncoding}`, train: { epochs: 1, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all', updateEncoding } },
    onSiteEvent: (_, e) => {
      if (e.type === 'update-sent') magics.add(new TextDecoder().decode(e.bytes.subarray(0, 4)));
    },
  });
  const report = await coordinator.done;
  await Promise.all(siteRuns);
  await coordinator.close();
  return { report, magics };
}

describe('update encoding over socket.io, 20 sites', () => {
  const reports: Partial<Record<UpdateEncoding, RunReport>> = {};

  it.each([
    // encoding, magic of the bytes sent, bytes up against float32 (low, high)
    ['float32', 'FTW1', 1, 1] as const,
    ['fp16', 'FTU1', 0.49, 0.51] as const,
    ['int8', 'FTU1', 0.24, 0.27] as const,
  ])('%s: sites send %s, bytes up per update are %f–%f× float32', async (encoding, magic, low, high) => {
    const { report, magics } = await run(encoding);
    reports[encoding] = report;
    expect(report.status).toBe('complete');
    expect([...magics]).toEqual([magic]);
    for (const r of report.rounds) {
      expect(r.accepted).toHaveLength(SITES);
      expect(r.rejected).toEqual([]);
    }
    const baseline = reports.float32!;
    for (const [k, r] of report.rounds.entries()) {
      const ratio = r.bytesUp / baseline.rounds[k].bytesUp;
      expect(ratio).toBeGreaterThanOrEqual(low);
      expect(ratio).toBeLessThanOrEqual(high);
      if (encoding === 'float32') {
        expect(r.updateEncoding).toBeUndefined();
      } else {
        expect(r.updateEncoding!.encoding).toBe(encoding);
        expect(r.updateEncoding!.bytesPerUpdate).toBe(r.bytesUp / SITES);
        expect(r.updateEncoding!.float32BytesPerUpdate).toBe(baseline.rounds[k].bytesUp / SITES);
        expect(r.updateEncoding!.ratio).toBeCloseTo(ratio, 10);
      }
    }
    // Lossy, not broken: the compressed run's model stays close to float32's on the holdout.
    expect(Math.abs(report.final!.accuracy - baseline.final!.accuracy)).toBeLessThan(0.1);
  }, 300_000);
});
