import type { RoundRecord } from '@fedtune/shared';
import type { ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';

/** A running report of `runId` whose rounds are `record(1)` … `record(rounds)`, with fixed times, model and pretrained metrics. */
export function reportSkeleton(runId: string, rounds: number, record: (n: number) => RoundRecord): ReportWithRobustness {
  return {
    schemaVersion: 1,
    runId,
    status: 'running',
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:10:00.000Z',
    config: { rounds },
    backend: 'wasm',
    model: { architecture: 'mlp', parameters: 10 },
    pretrained: { accuracy: 0.55, loss: 1.3 },
    rounds: Array.from({ length: rounds }, (_, i) => record(i + 1)),
  } as unknown as ReportWithRobustness;
}
