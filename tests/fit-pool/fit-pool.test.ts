import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChaChaRandom, FedtuneError, fitLocal, getArchitecture, readModelWeights, SeededRandom, writeModelWeights, type Dataset, type FitProgress, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { AUTO_THREADS_MIN_MACS_PER_EXAMPLE, FitPool, fitPoolFallbackReason, fitPoolOptions, MAX_FIT_POOL_WORKERS, resolveFitPoolWorkers, trainingPassesPerExample } from '@fedtune/client-node';

/** Random examples of the digits shape: [784] for the MLP, [28, 28, 1] for the CNN. */
function examples(n: number, featureShape: number[], seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const f = featureShape.reduce((a, b) => a * b, 1);
  return { x: new Float32Array(n * f).map(() => rng.next()), y: new Int32Array(n).map(() => rng.int(10)), featureShape, numClasses: 10 };
}

const MLP = [784];
const CNN = [28, 28, 1];
const model = (arch: 'mlp' | 'cnn' | 'cnn-bn', shape: number[]) => getArchitecture(arch).build({ inputShape: shape, numClasses: 10, seed: 7 });
const base: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'sgd', trainable: 'all', seed: 11 };

beforeAll(async () => {
  await selectNodeBackend('wasm');
});

describe('FitPool.fit: the same numbers as fitLocal in this thread', () => {
  const pool = new FitPool(2, 'wasm');
  afterAll(() => pool.close());

  it.each<[string, 'mlp' | 'cnn' | 'cnn-bn', number[], Partial<TrainConfig>, { validation?: boolean; keepTrainable?: boolean }]>([
    ['sgd, MLP, a short last batch', 'mlp', MLP, {}, {}],
    ['adam, MLP, head only, 2 epochs of maxExamples', 'mlp', MLP, { optimizer: 'adam', learningRate: 0.001, trainable: 'head', epochs: 2, maxExamples: 40 }, {}],
    ['momentum, CNN with BatchNorm, dropout', 'cnn-bn', CNN, { optimizer: 'momentum', dropout: 0.3 }, {}],
    ['adversarial (FGSM on half of each batch), FedProx', 'mlp', MLP, { adversarial: { method: 'fgsm', share: 0.5, eps: 0.05 }, proximalMu: 0.1 }, {}],
    ['augmentation and weight decay', 'mlp', MLP, { augmentation: { share: 0.5 }, weightDecay: 0.001 }, {}],
    ['early stopping on the validation split', 'mlp', MLP, { epochs: 4, learningRate: 0.5, earlyStopping: { patience: 1 } }, { validation: true }],
    ['the caller\'s layer flags (keepTrainable)', 'mlp', MLP, {}, { keepTrainable: true }],
  ])('%s: bit-identical weights, metrics, progress and layer flags', async (_, arch, shape, extra, opts) => {
    const config = { ...base, ...extra } as TrainConfig;
    const data = examples(52, shape, 3);
    const validation = opts.validation ? examples(30, shape, 4) : undefined;
    const one = model(arch, shape);
    const other = model(arch, shape);
    const start = readModelWeights(one).arrays;
    writeModelWeights(other, start);
    if (opts.keepTrainable) for (const m of [one, other]) m.layers.forEach((l, i) => (l.trainable = i % 2 === 0));
    const p1: FitProgress[] = [];
    const p2: FitProgress[] = [];
    const m1 = await fitLocal(one, data, config, (p) => p1.push(p), { validation, keepTrainable: opts.keepTrainable });
    const m2 = await pool.fit(other, data, config, (p) => p2.push(p), { validation, keepTrainable: opts.keepTrainable });
    const w1 = readModelWeights(one).arrays;
    const w2 = readModelWeights(other).arrays;
    expect(w1.some((w, i) => w.some((v, j) => v !== start[i][j])), 'training moved the weights').toBe(true);
    expect(w2).toEqual(w1);
    expect(m2).toEqual(m1);
    expect(p2).toEqual(p1);
    expect(other.layers.map((l) => l.trainable)).toEqual(one.layers.map((l) => l.trainable));
    if (opts.validation) expect(m2.validationLoss).toBeDefined();
    one.dispose();
    other.dispose();
  });
});

describe('the pool spreads the sites over its threads', () => {
  it('two fits at once run on both threads, each dataset and architecture is sent to a thread once', async () => {
    const pool = new FitPool(2, 'wasm');
    try {
      const a = model('mlp', MLP);
      const b = model('mlp', MLP);
      const da = examples(64, MLP, 1);
      const db = examples(64, MLP, 2);
      await Promise.all([pool.fit(a, da, base), pool.fit(b, db, base)]);
      expect(pool.created).toBe(2);
      expect(pool.fitsPerThread).toEqual([1, 1]);
      // A third and fourth round: the same threads, no new ones.
      await Promise.all([pool.fit(a, da, base), pool.fit(b, db, base)]);
      await Promise.all([pool.fit(a, da, base), pool.fit(b, db, base), pool.fit(a, da, base)]);
      expect(pool.created).toBe(2);
      expect(pool.fitsPerThread.reduce((s, n) => s + n, 0)).toBe(7);
      a.dispose();
      b.dispose();
    } finally {
      await pool.close();
    }
  });

  it('a fit with a caller\'s DP-SGD noise source trains in this thread (the same noise as fitLocal)', async () => {
    const pool = new FitPool(2, 'wasm');
    try {
      const config: TrainConfig = { ...base, dpSgd: { clip: 1, noiseMultiplier: 0.5 } };
      const data = examples(64, MLP, 5);
      const one = model('mlp', MLP);
      const other = model('mlp', MLP);
      writeModelWeights(other, readModelWeights(one).arrays);
      const m1 = await fitLocal(one, data, config, undefined, { dpSgdNoise: new ChaChaRandom(new Uint8Array(32).fill(7)), dpSgdSampling: new Uint8Array(32).fill(8) });
      const m2 = await pool.fit(other, data, config, undefined, { dpSgdNoise: new ChaChaRandom(new Uint8Array(32).fill(7)), dpSgdSampling: new Uint8Array(32).fill(8) });
      expect(readModelWeights(other).arrays).toEqual(readModelWeights(one).arrays);
      expect(m2).toEqual(m1);
      expect(pool.inProcessFits).toBe(1);
      expect(pool.created).toBe(0);
      one.dispose();
      other.dispose();
    } finally {
      await pool.close();
    }
  });

  it('a fit that fails in a thread rejects with fitLocal\'s typed error, and the pool keeps working', async () => {
    const pool = new FitPool(1, 'wasm');
    try {
      const m = model('mlp', MLP);
      const data = examples(64, MLP, 6);
      const poisoned = { ...data, x: data.x.slice() };
      poisoned.x[5] = NaN;
      const err = await pool.fit(m, poisoned, base).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FedtuneError);
      expect((err as FedtuneError).code).toBe('data');
      expect((err as FedtuneError).message).toMatch(/diverged/);
      const fresh = model('mlp', MLP);
      const ok = await pool.fit(fresh, data, base);
      expect(Number.isFinite(ok.loss)).toBe(true);
      m.dispose();
      fresh.dispose();
    } finally {
      await pool.close();
    }
  });

  it('a closed pool refuses fits with a typed error', async () => {
    const pool = new FitPool(1, 'wasm');
    await pool.close();
    const m = model('mlp', MLP);
    await expect(pool.fit(m, examples(16, MLP, 1), base)).rejects.toThrow(/closed/);
    m.dispose();
  });
});

describe('memory', () => {
  it('leaks no tensor: each thread\'s count (beyond its cached models) is the same after many fits, and none in this thread', async () => {
    const pool = new FitPool(2, 'wasm');
    try {
      const models = [model('mlp', MLP), model('cnn', CNN), model('mlp', MLP)];
      const data = [examples(40, MLP, 1), examples(40, CNN, 2), examples(40, MLP, 3)];
      const round = () => Promise.all(models.map((m, i) => pool.fit(m, data[i], { ...base, adversarial: i === 2 ? { method: 'pgd', share: 0.5, eps: 0.05, steps: 2 } : undefined })));
      await round();
      const before = await pool.workerTensors();
      const here = tf.memory().numTensors;
      for (let r = 0; r < 4; r++) await round();
      expect(await pool.workerTensors()).toEqual(before);
      expect(tf.memory().numTensors).toBe(here);
      for (const m of models) m.dispose();
    } finally {
      await pool.close();
    }
  });
});

describe('fitPoolOptions: --workers', () => {
  it.each<[string, { workers?: number | 'auto' }, number | 'auto' | RegExp]>([
    ['absent: auto', {}, 'auto'],
    ['auto', { workers: 'auto' }, 'auto'],
    ['1: the main thread', { workers: 1 }, 1],
    ['3', { workers: 3 }, 3],
    ['0 is refused', { workers: 0 }, /--workers: .*1/],
    ['2.5 is refused', { workers: 2.5 }, /--workers/],
    ['more than the most is refused', { workers: MAX_FIT_POOL_WORKERS + 1 }, /--workers/],
    ['another word is refused', { workers: 'all' as 'auto' }, /--workers/],
  ])('%s', (_, input, expected) => {
    if (!(expected instanceof RegExp)) expect(fitPoolOptions(input).workers).toBe(expected);
    else {
      const err = (() => {
        try {
          fitPoolOptions(input);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(FedtuneError);
      expect((err as FedtuneError).code).toBe('config');
      expect((err as FedtuneError).message).toMatch(expected);
    }
  });

  it.each([
    ['wasm', undefined],
    ['cpu', undefined],
    ['tensorflow', /already uses every core/],
  ] as const)('the %s backend: pool or main thread', (backend, reason) => {
    if (reason) expect(fitPoolFallbackReason(backend)).toMatch(reason);
    else expect(fitPoolFallbackReason(backend)).toBeUndefined();
  });
});

describe('trainingPassesPerExample: forward passes one training example costs', () => {
  it.each<[string, Parameters<typeof trainingPassesPerExample>[0], number]>([
    ['no adversarial training', {}, 1],
    ['PGD, default steps (7), every example', { adversarial: { method: 'pgd', share: 1, eps: 0.1 } }, 8],
    ['PGD-10 on half of each batch', { adversarial: { method: 'pgd', share: 0.5, eps: 0.1, steps: 10 } }, 6],
    ['TRADES-3 on every example', { adversarial: { method: 'trades', share: 1, eps: 0.1, steps: 3 } }, 4],
    ['FGSM is one step whatever steps says', { adversarial: { method: 'fgsm', share: 1, eps: 0.1, steps: 9 } }, 2],
    ['share 0 trains plainly', { adversarial: { method: 'pgd', share: 0, eps: 0.1, steps: 7 } }, 1],
    ['ε 0 trains plainly', { adversarial: { method: 'pgd', share: 1, eps: 0, steps: 7 } }, 1],
  ])('%s: %d', (_, train, passes) => {
    expect(trainingPassesPerExample(train)).toBe(passes);
  });
});

describe('resolveFitPoolWorkers: --workers auto weighs the fit', () => {
  const T = AUTO_THREADS_MIN_MACS_PER_EXAMPLE;
  const pgd7 = { adversarial: { method: 'pgd' as const, share: 1, eps: 0.1, steps: 7 } };
  it.each<[string, Parameters<typeof resolveFitPoolWorkers>[0], Parameters<typeof resolveFitPoolWorkers>[1], number, string]>([
    ['a number is taken as it is, even for a short fit', 3, { forwardMacsPerExample: 10, train: {}, sites: 8, cores: 2 }, 3, '--workers 3'],
    ['auto, just below the threshold: the main thread', 'auto', { forwardMacsPerExample: T - 1, train: {}, sites: 8, cores: 4 }, 1, '--workers auto: 0.50 M multiply-accumulates per training example, too short a fit for threads'],
    ['auto, at the threshold: every core', 'auto', { forwardMacsPerExample: T, train: {}, sites: 8, cores: 4 }, 4, '--workers auto: 0.50 M multiply-accumulates per training example, every core (4)'],
    ['auto, adversarial passes lift a short fit over it', 'auto', { forwardMacsPerExample: T / 8, train: pgd7, sites: 8, cores: 2 }, 2, '--workers auto: 0.50 M multiply-accumulates per training example (8 passes: adversarial training), every core (2)'],
    ['auto, fewer sites than cores: one thread per site', 'auto', { forwardMacsPerExample: 2 * T, train: {}, sites: 3, cores: 16 }, 3, '--workers auto: 1.00 M multiply-accumulates per training example, one per site (3 of 16 cores)'],
    ['auto on one core: the main thread', 'auto', { forwardMacsPerExample: 2 * T, train: {}, sites: 8, cores: 1 }, 1, '--workers auto: 1.00 M multiply-accumulates per training example, every core (1)'],
    ['auto, half a pass more (share 0.5, PGD-3)', 'auto', { forwardMacsPerExample: T / 2.5, train: { adversarial: { method: 'pgd', share: 0.5, eps: 0.1, steps: 3 } }, sites: 8, cores: 2 }, 2, '--workers auto: 0.50 M multiply-accumulates per training example (2.5 passes: adversarial training), every core (2)'],
  ])('%s', (_, workers, facts, n, why) => {
    expect(resolveFitPoolWorkers(workers, facts)).toEqual({ workers: n, why });
  });

  it('auto without a core count uses the cores this machine has', () => {
    expect(resolveFitPoolWorkers('auto', { forwardMacsPerExample: 2 * T, train: {}, sites: 10_000 }).workers).toBe(Math.min(availableParallelism(), MAX_FIT_POOL_WORKERS));
  });
});
