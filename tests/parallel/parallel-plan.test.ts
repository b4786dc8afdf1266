import { describe, expect, it } from 'vitest';
import { batchShards, epochSyncSteps, parallelFallbackReason, weightedAverageInto, type TrainConfig } from '@fedtune/shared';

const plain: TrainConfig = { epochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd', trainable: 'all', seed: 1 };
const facts = { layerClassNames: ['Dense', 'Dense'], hasValidation: true };

describe('batchShards', () => {
  it.each([
    [0, 32, 2, [16, 16]],
    [0, 33, 2, [17, 16]],
    [64, 70, 4, [2, 2, 1, 1]],
    [0, 1, 3, [1, 0, 0]],
  ])('[%i, %i) over %i workers: contiguous shards of sizes %j', (start, end, workers, sizes) => {
    const shards = batchShards(start, end, workers);
    expect(shards.map((s) => s.end - s.start)).toEqual(sizes);
    expect(shards[0].start).toBe(start);
    shards.slice(1).forEach((s, i) => expect(s.start).toBe(shards[i].end));
    expect(shards.at(-1)!.end).toBe(end);
  });
});

describe('epochSyncSteps', () => {
  const covered = (steps: ReturnType<typeof epochSyncSteps>): number[] =>
    steps.flatMap((s) => s.work.flatMap((runs) => runs.flatMap((r) => Array.from({ length: r.end - r.start }, (_, k) => r.start + k)))).sort((a, b) => a - b);

  it.each([
    [100, 32, 2, 1],
    [100, 32, 3, 1],
    [100, 10, 2, 3],
    [5, 32, 4, 1],
    [257, 16, 2, 4],
  ])('n=%i batch=%i workers=%i syncEvery=%i: every example exactly once', (n, batch, workers, k) => {
    expect(covered(epochSyncSteps(n, batch, workers, k))).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('syncEvery 1: one step per batch, each batch split in shards, no empty runs', () => {
    const steps = epochSyncSteps(70, 32, 2, 1);
    expect(steps.map((s) => s.batchesDone)).toEqual([1, 2, 3]);
    expect(steps[0].work).toEqual([[{ start: 0, end: 16 }], [{ start: 16, end: 32 }]]);
    expect(steps[2].work).toEqual([[{ start: 64, end: 67 }], [{ start: 67, end: 70 }]]);
    expect(epochSyncSteps(33, 32, 2, 1)[1].work).toEqual([[{ start: 32, end: 33 }], []]);
  });

  it('syncEvery k > 1: whole batches, worker w takes batches w, w + workers, … of a window of workers·k batches', () => {
    const steps = epochSyncSteps(100, 10, 2, 2); // 10 batches, windows of 4
    expect(steps.map((s) => s.batchesDone)).toEqual([4, 8, 10]);
    expect(steps[0].work).toEqual([
      [{ start: 0, end: 10 }, { start: 20, end: 30 }],
      [{ start: 10, end: 20 }, { start: 30, end: 40 }],
    ]);
    expect(steps[2].work).toEqual([[{ start: 80, end: 90 }], [{ start: 90, end: 100 }]]);
  });
});

describe('weightedAverageInto', () => {
  it('weights each part by its examples and skips parts with none', () => {
    const out = new Float32Array(2);
    weightedAverageInto(out, [new Float32Array([1, 2]), new Float32Array([4, 8]), new Float32Array([1e9, NaN])], [1, 3, 0]);
    expect(Array.from(out)).toEqual([3.25, 6.5]);
  });
  it.each([
    [[1], [5], 1],
    [[1, 2, 3], [1, 1, 2], 2.25],
    [[1, 2, 3, 4], [0, 1, 0, 1], 3],
  ])('parts %j with weights %j average to %d (one, three and four workers)', (values, weights, want) => {
    const out = new Float32Array(1);
    weightedAverageInto(out, values.map((v) => new Float32Array([v])), weights);
    expect(out[0]).toBeCloseTo(want, 6);
  });
  it('writes only the given range', () => {
    const out = new Float32Array([9, 9, 9]);
    weightedAverageInto(out, [new Float32Array([1, 1, 1]), new Float32Array([3, 3, 3])], [1, 1], 1, 2);
    expect(Array.from(out)).toEqual([9, 2, 9]);
  });
});

describe('parallelFallbackReason', () => {
  it('a plain config (dropout, head-only, maxExamples included) trains in parallel', () => {
    expect(parallelFallbackReason({ ...plain, dropout: 0.3, trainable: 'head', maxExamples: 50 }, facts)).toBeUndefined();
    expect(parallelFallbackReason({ ...plain, earlyStopping: { patience: 2 } }, { ...facts, hasValidation: false })).toBeUndefined();
    expect(parallelFallbackReason({ ...plain, adversarial: { method: 'pgd', share: 0, eps: 0.1 } }, facts)).toBeUndefined();
  });
  it.each([
    ['DP-SGD', { dpSgd: { clip: 1, noiseMultiplier: 1 } }, facts, /DP-SGD/],
    ['adversarial training', { adversarial: { method: 'fgsm', share: 1, eps: 0.1 } }, facts, /adversarial/],
    ['augmentation', { augmentation: { share: 0.5 } }, facts, /augmentation/],
    ['FedProx μ', { proximalMu: 0.1 }, facts, /proximal/],
    ['weight decay', { weightDecay: 0.001 }, facts, /weight decay/],
    ['early stopping', { earlyStopping: { patience: 2 } }, facts, /early stopping/],
    ['FedBN', { localBatchNorm: true }, facts, /BatchNorm/],
    ['a BatchNorm layer', {}, { ...facts, layerClassNames: ['Conv2D', 'BatchNormalization', 'Dense'] }, /BatchNorm/],
  ] as const)('%s falls back to one thread, saying why', (_, extra, f, reason) => {
    expect(parallelFallbackReason({ ...plain, ...extra } as TrainConfig, { ...f, layerClassNames: [...f.layerClassNames] })).toMatch(reason);
  });
});
