import * as tf from '@tensorflow/tfjs';
import { createTrainStep, type Dataset, type TrainConfig } from '@fedtune/shared';

/**
 * What splitting each batch over `workers` threads can gain on this model at best (`--sync-every 1`): the
 * time of one batch's forward + backward pass divided by the time of one shard's (batch / workers), measured
 * here on the site's own model and first examples (median of a few repetitions after a warm-up; the
 * model's weights are not changed). tfjs's fixed cost per step makes a shard cost most of a whole batch on a
 * small model, so a model whose estimate is below `MIN_SHARD_SPEEDUP` trains faster on one thread.
 */
export function measureShardSpeedup(model: tf.LayersModel, train: Dataset, config: Pick<TrainConfig, 'optimizer' | 'learningRate' | 'batchSize'>, workers: number, reps = 3): number {
  const batch = Math.min(config.batchSize, train.y.length);
  const shard = Math.max(1, Math.ceil(batch / workers));
  if (shard >= batch) return 1;
  const step = createTrainStep(model, { optimizer: config.optimizer, learningRate: config.learningRate });
  try {
    const size = step.inputSize;
    const x = train.x.subarray(0, batch * size);
    const y = train.y.subarray(0, batch);
    const time = (count: number): number => {
      const times: number[] = [];
      for (let r = 0; r <= reps; r++) {
        const t0 = process.hrtime.bigint();
        step.computeGradients(x, y, count);
        if (r > 0) times.push(Number(process.hrtime.bigint() - t0));
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(times.length / 2)];
    };
    time(batch); // warm-up: kernels, shapes
    const whole = time(batch);
    const part = time(shard);
    return part > 0 ? whole / part : 1;
  } finally {
    step.dispose();
  }
}

/** Below this estimated gain, `--sync-every 1` trains on one thread (the shard round trip would lose time). */
export const MIN_SHARD_SPEEDUP = 1.25;
