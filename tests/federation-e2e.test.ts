import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateModel, type RunReport } from '@fedtune/shared';
import { builtinDigits } from '@fedtune/shared/node';
import { head, startTestFederation, tempDir } from './helpers/federation.ts';

/** A tfjs IOHandler that reads a saved model from disk (what tfjs-node's file:// does, without tfjs-node). */
function fileHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const bin = readFileSync(join(dir, 'weights.bin'));
      return {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((m: { weights: tf.io.WeightsManifestEntry[] }) => m.weights),
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      };
    },
  };
}

describe('a real federation over socket.io and over the memory network', () => {
  const runsDir = tempDir();
  const results: Record<string, { report: RunReport; weights: Buffer }> = {};

  async function run(transport: 'socket' | 'memory') {
    const { coordinator, siteRuns } = await startTestFederation({ sites: 3, rounds: 3, seed: 11, transport, runsDir: `${runsDir}/${transport}`, maxSiteExamples: 500 });
    const report = await coordinator.done;
    const outcomes = await Promise.all(siteRuns);
    await coordinator.close();
    const weights = readFileSync(join(coordinator.runDir, report.final!.modelDir, 'weights.bin'));
    results[transport] = { report, weights };
    return { report, outcomes, runDir: coordinator.runDir };
  }

  afterAll(() => undefined);

  it('over socket.io: 3 sites, 3 rounds, the global model beats the pretrained one on the holdout', async () => {
    const { report, outcomes, runDir } = await run('socket');
    expect(report.status).toBe('complete');
    expect(report.rounds).toHaveLength(3);
    for (const r of report.rounds) {
      expect(r.selected).toEqual(['site-1', 'site-2', 'site-3']);
      expect(r.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
      expect(r.rejected).toEqual([]);
      expect(r.bytesUp).toBeGreaterThan(3 * 4 * 100_000);
      expect(r.bytesDown).toBeGreaterThanOrEqual(r.bytesUp);
    }
    expect(report.final!.accuracy).toBeGreaterThan(report.pretrained!.accuracy + 0.03);
    expect(outcomes.every((o) => o.completed && o.roundsTrained === 3)).toBe(true);
    // report.json on disk is the same report
    const onDisk = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as RunReport;
    expect(onDisk.final).toEqual(report.final);
    expect(onDisk.rounds.at(-1)!.federated!.sites.map((s) => s.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
  });

  it('the saved global model loads with tf.loadLayersModel and scores what the report says', async () => {
    const { report } = results.socket;
    const dir = join(runsDir, 'socket', report.runId, report.final!.modelDir);
    const model = await tf.loadLayersModel(fileHandler(dir));
    const m = evaluateModel(model, head(builtinDigits().holdout, 500));
    model.dispose();
    expect(m.accuracy).toBeCloseTo(report.final!.accuracy, 6);
    expect(m.loss).toBeCloseTo(report.final!.loss, 4);
  });

  it('the same seed over the memory network gives bit-identical global weights', async () => {
    const { report } = await run('memory');
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.global)).toEqual(results.socket.report.rounds.map((r) => r.global));
    expect(Buffer.compare(results.memory.weights, results.socket.weights)).toBe(0);
  });
});
