import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPORT_SCHEMA_VERSION, type RoundRecord, type RunReport, type Weights } from '@fedtune/shared';

export function tempDir(prefix = 'fedtune-persist-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deterministic weights with awkward values (-0, a denormal, a NaN with a payload) that a lossy codec would change. */
export function makeWeights(seed: number, sizes: number[] = [7 * 5, 5, 5 * 3, 3]): Weights {
  const shapes = [[7, 5], [5], [5, 3], [3]].slice(0, sizes.length);
  const arrays = sizes.map((n, k) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 1000 + k * 100 + i) * 3;
    return a;
  });
  arrays[0][0] = -0;
  arrays[0][1] = 1e-45; // smallest denormal
  new Uint32Array(arrays[0].buffer)[2] = 0x7fc00123; // NaN with a payload
  return { manifest: sizes.map((_, k) => ({ name: `layer${k}/w`, shape: shapes[k], dtype: 'float32' as const })), arrays };
}

export function makeRound(round: number, extra: Partial<RoundRecord> = {}): RoundRecord {
  return {
    round,
    durationMs: 1234.5 + round,
    attempts: 1,
    selected: ['site-1', 'site-2', 'site-3'],
    accepted: [
      { siteId: 'site-1', numExamples: 100, loss: 0.5, accuracy: 0.8, durationMs: 900 },
      { siteId: 'site-2', numExamples: 120, loss: 0.45, accuracy: 0.82, durationMs: 950 },
    ],
    rejected: [{ siteId: 'site-3', code: 'non_finite', reason: 'tensor 0 holds NaN' }],
    failed: [],
    bytesDown: 3000,
    bytesUp: 2000,
    global: { accuracy: 0.7 + round / 100, loss: 0.9 - round / 100 },
    modelDir: `models/round-${round}`,
    ...extra,
  };
}

export function makeReport(runId: string, rounds: number): RunReport {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    runId,
    status: 'running',
    startedAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:10:00.000Z',
    config: { runId, rounds: 10, seed: 42, strategy: 'fedavgm' },
    backend: 'wasm',
    model: { architecture: 'mlp', parameters: 58 },
    pretrained: { accuracy: 0.5, loss: 1.2 },
    rounds: Array.from({ length: rounds }, (_, i) => makeRound(i + 1)),
  };
}

/** The bytes behind a typed array (for bit-exact comparisons that NaN payloads and -0 cannot fool). */
export function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
