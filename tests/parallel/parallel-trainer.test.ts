import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitLocal, getArchitecture, readModelWeights, SeededRandom, writeModelWeights, type Dataset, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { forwardMacsPerExample, ParallelTrainer } from '@fedtune/client-node';

/** Random examples of the digits shape: [784] for the MLP, [28, 28, 1] for the CNN. */
function examples(n: number, featureShape: number[], seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const f = featureShape.reduce((a, b) => a * b, 1);
  return { x: new Float32Array(n * f).map(() => rng.next()), y: new Int32Array(n).map(() => rng.int(10)), featureShape, numClasses: 10 };
}

const model = (arch: 'mlp' | 'cnn', shape: number[]) => getArchitecture(arch).build({ inputShape: shape, numClasses: 10, seed: 7 });
const base: TrainConfig = { epochs: 1, batchSize: 32, learningRate: 0.02, optimizer: 'sgd', trainable: 'all', seed: 11 };
const MLP = [784];
const CNN = [28, 28, 1];

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((arr, i) => arr.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

/** fitLocal on one model and `fit` on a copy from the same weights; the weights after both. */
async function sideBySide(arch: 'mlp' | 'cnn', shape: number[], data: Dataset, config: TrainConfig, trainer: ParallelTrainer) {
  const one = model(arch, shape);
  const many = model(arch, shape);
  const start = readModelWeights(one).arrays;
  writeModelWeights(many, start);
  const m1 = await fitLocal(one, data, config);
  const m2 = await trainer.fit(many, data, config);
  const w1 = readModelWeights(one).arrays;
  const w2 = readModelWeights(many).arrays;
  one.dispose();
  many.dispose();
  return { m1, m2, w1, w2, start };
}

beforeAll(async () => {
  await selectNodeBackend('wasm');
});

describe('--workers 2, --sync-every 1: the same training as one thread', () => {
  const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
  afterAll(() => trainer.close());

  // Tolerances from measurement: sgd and momentum differ by ~1.5e-8, Adam on the CNN by ~3e-8, Adam on all the
  // MLP's layers by ~1.6e-6 (see the Adam note below).
  it.each([
    ['sgd, MLP, a short last batch', 'mlp', MLP, 120, { optimizer: 'sgd' }, 1e-6],
    ['momentum, MLP, 2 epochs of maxExamples', 'mlp', MLP, 120, { optimizer: 'momentum', epochs: 2, maxExamples: 90 }, 1e-6],
    // Adam divides each coordinate's step by its own gradient's magnitude: where a batch gradient nearly
    // cancels, the ~1e-7 rounding of a different summation order becomes a sizeable share of the rate (at
    // 0.005, one MLP weight in 100k moved 6.5e-5 from fitLocal's; 1.6e-6 at Adam's usual 0.001).
    ['adam, MLP, head only', 'mlp', MLP, 96, { optimizer: 'adam', learningRate: 0.001, trainable: 'head' }, 1e-5],
    ['adam, MLP, all layers', 'mlp', MLP, 96, { optimizer: 'adam', learningRate: 0.001 }, 1e-5],
    ['adam, CNN', 'cnn', CNN, 64, { optimizer: 'adam', learningRate: 0.001 }, 1e-6],
  ] as const)('%s: weights within the measured tolerance of fitLocal, the same loss and accuracy', async (_, arch, shape, n, extra, tolerance) => {
    const config = { ...base, ...extra } as TrainConfig;
    const { m1, m2, w1, w2, start } = await sideBySide(arch, shape, examples(n, shape, n), config, trainer);
    expect(maxDiff(w1, start), 'training moved the weights').toBeGreaterThan(1e-3);
    expect(maxDiff(w1, w2)).toBeLessThan(tolerance);
    expect(m2.loss).toBeCloseTo(m1.loss, 6);
    expect(m2.accuracy).toBeCloseTo(m1.accuracy, 5);
    expect(m2.numExamples).toBe(m1.numExamples);
    expect(m2.workers).toBe(2);
    // Every worker reported its time for every sync step (one per batch with --sync-every 1).
    const steps = (config.epochs ?? 1) * Math.ceil(Math.min(n, config.maxExamples ?? n) / config.batchSize);
    expect(trainer.lastTiming.map((t) => t.steps)).toEqual([steps, steps]);
    for (const t of trainer.lastTiming) for (const ms of [t.trainMs, t.waitMs, t.reduceMs]) expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('started its two threads once and reused them for every fit', () => {
    expect(trainer.threadsCreated).toBe(2);
  });
});

describe('the flags take effect', () => {
  it.each([
    [1, 0],
    [3, 3],
  ])('--workers %i trains on %i worker threads', async (workers, threads) => {
    const trainer = new ParallelTrainer({ workers, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
    try {
      const m = model('mlp', MLP);
      const metrics = await trainer.fit(m, examples(64, MLP, 3), base);
      m.dispose();
      expect(trainer.threadsCreated).toBe(threads);
      expect(metrics.workers).toBe(Math.max(1, threads));
    } finally {
      await trainer.close();
    }
  });

  it('--workers 3 --sync-every 1: each replica averages its third of the parameters, and the weights are still fitLocal\'s', async () => {
    const trainer = new ParallelTrainer({ workers: 3, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
    try {
      // 100 examples: batches of 32 split 11/11/10, and a last batch of 4 split 2/1/1.
      const { m1, m2, w1, w2, start } = await sideBySide('mlp', MLP, examples(100, MLP, 13), { ...base, optimizer: 'momentum' }, trainer);
      expect(maxDiff(w1, start)).toBeGreaterThan(1e-3);
      expect(maxDiff(w1, w2)).toBeLessThan(1e-6);
      expect(m2.loss).toBeCloseTo(m1.loss, 6);
      expect(m2.workers).toBe(3);
    } finally {
      await trainer.close();
    }
  });

  it('--sync-every 4: local SGD on whole batches, weights averaged per window — not the one-thread weights, and it learns', async () => {
    const data = examples(256, MLP, 5);
    const config: TrainConfig = { ...base, optimizer: 'sgd', learningRate: 0.1 };
    const local = new ParallelTrainer({ workers: 2, syncEvery: 4, backend: 'wasm' });
    try {
      const { m1, m2, w1, w2 } = await sideBySide('mlp', MLP, data, config, local);
      expect(maxDiff(w1, w2)).toBeGreaterThan(1e-4);
      expect(m2.workers).toBe(2);
      expect(Number.isFinite(m2.loss)).toBe(true);
      // The same data and learning rate: local SGD fits about as well as one thread (loose, it is a different algorithm).
      expect(m2.loss).toBeLessThan(m1.loss * 1.5);
      const m = model('mlp', MLP);
      const first = await local.fit(m, data, config);
      const later = await local.fit(m, data, { ...config, seed: 12 });
      m.dispose();
      expect(later.loss).toBeLessThan(first.loss);
    } finally {
      await local.close();
    }
  });
});

describe('forwardMacsPerExample: the compute estimate that decides whether a batch is split', () => {
  it('counts Dense in × units and Conv2D outH × outW × k × k × cin × filters', () => {
    const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 64 }), tf.layers.dense({ units: 10 })] });
    expect(forwardMacsPerExample(dense)).toBe(784 * 64 + 64 * 10);
    const conv = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3 }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: [3, 5], padding: 'same' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10 }),
      ],
    });
    expect(forwardMacsPerExample(conv)).toBe(26 * 26 * 9 * 1 * 8 + 13 * 13 * 15 * 8 * 16 + 13 * 13 * 16 * 10);
    dense.dispose();
    conv.dispose();
  });
});

describe('configs the threads do not run fall back to fitLocal, with one line saying why', () => {
  it.each([
    ['weight decay', { weightDecay: 0.01 }, /weight decay/],
    ['DP-SGD', { dpSgd: { clip: 1, noiseMultiplier: 0 } }, /DP-SGD/],
    ['adversarial training', { adversarial: { method: 'fgsm', share: 1, eps: 0.05 } }, /adversarial/],
  ] as const)('%s', async (_, extra, reason) => {
    const lines: string[] = [];
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', onLog: (l) => lines.push(l) });
    try {
      const config = { ...base, ...extra } as TrainConfig;
      const data = examples(64, MLP, 9);
      const m = model('mlp', MLP);
      const a = await trainer.fit(m, data, config);
      await trainer.fit(m, data, config);
      m.dispose();
      expect(a.workers).toBe(1);
      expect(trainer.threadsCreated).toBe(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(reason);
      expect(lines[0]).toMatch(/^2 worker threads available \(--workers\), but this fit trains on one: /);
    } finally {
      await trainer.close();
    }
  });

  it.each([
    ['a shard under the threshold (minShardMacs 1e12)', 1e12, 1, 0, /gives each \d+\.\d M multiply-accumulates per step, too little/],
    ['the check turned off (minShardMacs 0)', 0, 2, 2, undefined],
  ] as const)('--sync-every 1 estimates what a shard computes: %s', async (_, minShardMacs, workersUsed, threads, line) => {
    const lines: string[] = [];
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', minShardMacs, onLog: (l) => lines.push(l) });
    try {
      const { m2: a, w1, w2 } = await sideBySide('mlp', MLP, examples(64, MLP, 9), base, trainer);
      // Measuring the split leaves the weights alone: the one-thread fallback is exactly fitLocal.
      if (workersUsed === 1) expect(maxDiff(w1, w2)).toBe(0);
      expect(a.workers).toBe(workersUsed);
      expect(trainer.threadsCreated).toBe(threads);
      if (line) {
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(line);
        expect(trainer.lastShardMacs).toBeCloseTo((forwardMacsPerExample(getArchitecture('mlp').build({ inputShape: MLP, numClasses: 10, seed: 7 })) * 32) / 2);
      } else {
        expect(lines).toEqual([]);
      }
    } finally {
      await trainer.close();
    }
  });

  it('a native backend (already multi-threaded) trains on one thread and says so once', async () => {
    const lines: string[] = [];
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'tensorflow', onLog: (l) => lines.push(l) });
    expect(lines).toEqual(['--workers 2: training on one thread: the tensorflow backend already uses every core']);
    expect(trainer.threadsCreated).toBe(0);
  });
});

describe('a worker that fails', () => {
  it('fails the fit with one typed error line, and the next fit starts fresh threads', async () => {
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
    try {
      const m = model('mlp', MLP);
      // 783 features for a 784-input model: the workers cannot shape a batch.
      const wrong = { ...examples(64, [783], 2), featureShape: [783] };
      const err = await trainer.fit(m, wrong, base).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'FedtuneError', code: 'internal' });
      expect((err as Error).message).toMatch(/^a training worker failed: /);
      expect((err as Error).message.split('\n')).toHaveLength(1);
      const ok = await trainer.fit(m, examples(64, MLP, 2), base);
      expect(ok.workers).toBe(2);
      expect(trainer.threadsCreated).toBe(4);
      m.dispose();
    } finally {
      await trainer.close();
    }
  });
});

describe('a worker that fails mid-fit while the other waits at the barrier', () => {
  it('fails the fit with the failing worker\'s error (not the other\'s "another training thread stopped"), without hanging', async () => {
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
    try {
      const m = model('mlp', MLP);
      const data = examples(96, MLP, 8);
      // One example of 96 has a label outside the 10 classes: only the worker whose shard holds it fails.
      data.y[50] = 12;
      const err = await trainer.fit(m, data, base).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'FedtuneError', code: 'internal' });
      expect((err as Error).message).toMatch(/^a training worker failed: .*label 12/);
      data.y[50] = 3;
      expect((await trainer.fit(m, data, base)).workers).toBe(2);
      m.dispose();
    } finally {
      await trainer.close();
    }
  });
});

describe('divergence', () => {
  it('a non-finite epoch loss stops every worker after that epoch and fails the fit as fitLocal does', async () => {
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
    try {
      const data = examples(96, MLP, 6);
      // One example of NaNs: its batch's loss (and, through the update, every later loss) is NaN.
      data.x.fill(NaN, 0, 784);
      const config: TrainConfig = { ...base, epochs: 3 };
      const one = model('mlp', MLP);
      const local = await fitLocal(one, data, config).catch((e: unknown) => e);
      one.dispose();
      const m = model('mlp', MLP);
      const err = await trainer.fit(m, data, config).catch((e: unknown) => e);
      m.dispose();
      expect(local).toMatchObject({ code: 'data', message: expect.stringMatching(/diverged/) });
      expect(err).toMatchObject({ name: 'FedtuneError', code: 'data', message: expect.stringMatching(/^local training diverged/) });
      // Both replicas stopped at the end of the first epoch (3 batches), not after all three epochs.
      expect(trainer.lastTiming.map((t) => t.steps)).toEqual([3, 3]);
    } finally {
      await trainer.close();
    }
  });
});

describe('memory', () => {
  it('repeated fits leak no tensors, in this thread or in the workers', async () => {
    const trainer = new ParallelTrainer({ workers: 2, syncEvery: 1, backend: 'wasm', minShardMacs: 0 });
    try {
      const m = model('mlp', MLP);
      const data = examples(80, MLP, 4);
      const config: TrainConfig = { ...base, optimizer: 'adam', learningRate: 0.001 };
      await trainer.fit(m, data, config);
      const main = tf.memory().numTensors;
      const workers = await trainer.workerTensors();
      for (let i = 0; i < 3; i++) await trainer.fit(m, data, { ...config, seed: i });
      await trainer.fit(m, data, { ...config, optimizer: 'momentum' });
      expect(tf.memory().numTensors).toBe(main);
      expect(await trainer.workerTensors()).toEqual(workers);
      // A worker holds its model replica's variables and nothing else between fits.
      expect(workers).toEqual([m.weights.length, m.weights.length]);
      m.dispose();
    } finally {
      await trainer.close();
    }
  });
});
