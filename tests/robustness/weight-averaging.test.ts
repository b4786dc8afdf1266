import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { simulateCommand } from '../../cli/src/commands/simulate-command.ts';
import { loadModelDir } from '@fedtune/coordinator';
import { readModelWeights, RunReport } from '@fedtune/shared';
import { readFileSync } from 'node:fs';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../../coordinator/src/persistence/checkpoint-format.ts';
import { TailAverage } from '../../coordinator/src/engine/tail-average.ts';
import { tempDir } from '../helpers/federation.ts';

async function simulate(averageRounds: number) {
  const out = tempDir('fedtune-avg-');
  const result = await runSimulation({ sites: 3, rounds: 4, out, transport: 'memory', maxExamples: 48, seed: 5, robustness: { when: 'never' }, federatedEvaluation: 'never', config: { averageRounds } });
  expect(result.report.status, result.report.aborted).toBe('complete');
  const models = await Promise.all(result.report.rounds.map(async (r) => readModelWeights(await loadModelDir(join(result.runDir, r.modelDir))).arrays));
  const onDisk = RunReport.parse(JSON.parse(readFileSync(result.reportPath, 'utf8')));
  return { report: onDisk, models };
}

describe('averageRounds: the final model is the mean of the last rounds\' global models', () => {
  it('a 4-round run with --average-rounds 3 trains exactly as without it and ends with the mean of rounds 2–4, evaluated and reported as such', async () => {
    const plain = await simulate(1);
    const averaged = await simulate(3);
    // Training is untouched: rounds 1–3 are the same models, bit for bit.
    for (let r = 0; r < 3; r++) averaged.models[r].forEach((w, i) => expect(Buffer.compare(Buffer.from(w.buffer, w.byteOffset, w.byteLength), Buffer.from(plain.models[r][i].buffer, plain.models[r][i].byteOffset, plain.models[r][i].byteLength)), `round ${r + 1} tensor ${i}`).toBe(0));
    // The final model: the float64 mean of the plain run's rounds 2, 3 and 4, rounded to float32.
    let differs = false;
    averaged.models[3].forEach((w, i) => {
      const [a, b, c] = [plain.models[1][i], plain.models[2][i], plain.models[3][i]];
      for (let j = 0; j < w.length; j++) {
        expect(w[j]).toBe(Math.fround((a[j] + b[j] + c[j]) / 3));
        if (w[j] !== c[j]) differs = true;
      }
    });
    expect(differs).toBe(true);
    expect(averaged.report.rounds[3].averagedRounds).toBe(3);
    expect(plain.report.rounds[3].averagedRounds).toBeUndefined();
    expect(averaged.report.rounds.slice(0, 3).every((r) => r.averagedRounds === undefined)).toBe(true);
    // The final metrics are the averaged model's (its own holdout evaluation), not the last aggregate's.
    expect(averaged.report.final!.round).toBe(4);
    expect(averaged.report.final!.loss).not.toBe(plain.report.final!.loss);
    expect(averaged.report.rounds.slice(0, 3).map((r) => r.global.loss)).toEqual(plain.report.rounds.slice(0, 3).map((r) => r.global.loss));
  }, 180_000);
});

describe('fedtune simulate --average-rounds', () => {
  it('says under the final round\'s row and at the model\'s path that the final model is the mean; without the flag it says nothing', async () => {
    const lines = async (extra: string[]) => {
      const out = tempDir('fedtune-avg-cli-');
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await simulateCommand().exitOverride().parseAsync(['--sites', '2', '--rounds', '2', '--max-examples', '16', '--federated-eval', 'never', '--robustness', 'never', '--transport', 'memory', '--out', out, ...extra], { from: 'user' });
        return log.mock.calls.map((c) => String(c[0]));
      } finally {
        log.mockRestore();
      }
    };
    const averaged = await lines(['--average-rounds', '2']);
    expect(averaged.some((l) => l.includes("the global model is now the mean of the last 2 rounds' models (--average-rounds)"))).toBe(true);
    expect(averaged.find((l) => l.startsWith('global model: '))).toMatch(/round-2 \(the mean of the last 2 rounds' models\)$/);
    const plain = await lines([]);
    expect(plain.some((l) => l.includes('the mean of the last'))).toBe(false);
    expect(plain.find((l) => l.startsWith('global model: '))).toMatch(/round-2$/);
  }, 120_000);
});

describe('TailAverage', () => {
  const w = (...v: number[]) => [Float32Array.from(v)];
  it('sums only the window\'s rounds, needs two to average, and a window of 1 or wider than the run behaves', () => {
    const t = new TailAverage(2, 5);
    expect(t.firstRound).toBe(4);
    t.add(3, w(100));
    expect(t.mean()).toBeUndefined();
    t.add(4, w(1, 2));
    expect(t.averaged).toBe(1);
    expect(t.mean()).toBeUndefined();
    t.add(5, w(2, 5));
    t.add(6, w(1000, 1000));
    expect(t.averaged).toBe(2);
    expect(t.mean()).toEqual(w(1.5, 3.5));
    const off = new TailAverage(1, 5);
    off.add(5, w(1));
    expect(off.state).toBeUndefined();
    expect(off.mean()).toBeUndefined();
    const wide = new TailAverage(10, 3);
    expect(wide.firstRound).toBe(1);
    [1, 2, 3].forEach((r) => wide.add(r, w(r)));
    expect(wide.mean()).toEqual(w(2));
  });

  it('continues from its state (a resumed run), through a checkpoint with an accountant and a strategy state', () => {
    const t = new TailAverage(3, 4);
    t.add(2, [Float32Array.from([0.1, 0.2]), Float32Array.from([3])]);
    const ckpt = decodeCheckpoint(Buffer.concat(encodeCheckpoint({
      runId: 'r', round: 2, weights: { manifest: [{ name: 'a', shape: [2], dtype: 'float32' }, { name: 'b', shape: [1], dtype: 'float32' }], arrays: [Float32Array.from([0.1, 0.2]), Float32Array.from([3])] },
      strategyState: { v: Float32Array.from([7, 8]) }, rng: {}, accountant: { accountant: { orders: Float64Array.from([1.5, 2]) }, clip: 1 }, averaging: t.state, report: { rounds: [] } as never,
    }).chunks));
    expect(ckpt.strategyState).toEqual({ v: Float32Array.from([7, 8]) });
    expect(ckpt.accountant).toEqual({ accountant: { orders: Float64Array.from([1.5, 2]) }, clip: 1 });
    const resumed = new TailAverage(3, 4, ckpt.averaging as never);
    const direct = new TailAverage(3, 4, t.state);
    for (const x of [resumed, direct]) {
      x.add(3, [Float32Array.from([0.3, 0.4]), Float32Array.from([5])]);
      x.add(4, [Float32Array.from([0.5, 0.6]), Float32Array.from([7])]);
    }
    expect(resumed.mean()).toEqual(direct.mean());
    // A TailAverage continues from a copy: the state it was given (a checkpoint's) is not changed under it.
    expect(Array.from(t.state!.sums[1])).toEqual([3]);
    expect(t.averaged).toBe(1);
    expect(resumed.mean()![1][0]).toBe(5);
    // A checkpoint without averaging (and one written before it existed) decodes as before.
    const plain = decodeCheckpoint(Buffer.concat(encodeCheckpoint({ runId: 'r', round: 1, weights: { manifest: [{ name: 'a', shape: [1], dtype: 'float32' }], arrays: [Float32Array.from([1])] }, strategyState: null, rng: {}, accountant: { x: Float64Array.from([4]) }, report: { rounds: [] } as never }).chunks));
    expect(plain.averaging).toBeUndefined();
    expect(plain.accountant).toEqual({ x: Float64Array.from([4]) });
  });
});
