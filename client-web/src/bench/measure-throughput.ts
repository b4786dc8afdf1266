import * as tf from '@tensorflow/tfjs';
import { createTrainStep, fitLocal, getArchitecture, SeededRandom, type Dataset, type TrainConfig } from '@fedtune/shared';

export interface ThroughputOptions {
  /** Training examples per timed fit (default 2,000). */
  examples?: number;
  batchSize?: number;
  epochs?: number;
  architecture?: string;
  /** Timed repetitions; the best is reported (default 3). */
  repeats?: number;
}

export interface ThroughputResult {
  backend: string;
  architecture: string;
  examples: number;
  batchSize: number;
  epochs: number;
  /** Seconds of each timed fit. */
  seconds: number[];
  /** Best samples per second (examples × epochs / seconds). */
  samplesPerS: number;
  /** Whether the step ran as a Dense stack on the wasm heap (dense-stack-step.ts) rather than through tfjs's tape. */
  denseStack: boolean;
}

/** Digits-shaped examples (784 values in [0, 1], 10 classes); throughput does not depend on the values. */
function syntheticDigits(n: number, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = Int32Array.from({ length: n }, () => Math.floor(rng.next() * 10));
  return { x, y, featureShape: [784], numClasses: 10 };
}

/**
 * Local training throughput of the built-in model with the site's own training loop (`fitLocal`, the
 * code SiteClient runs), on whatever tfjs backend is active. Runs the same in Node and in a browser tab,
 * so the two numbers compare like for like.
 */
export async function measureFitThroughput(options: ThroughputOptions = {}): Promise<ThroughputResult> {
  const examples = options.examples ?? 2000;
  const batchSize = options.batchSize ?? 32;
  const epochs = options.epochs ?? 1;
  const architecture = options.architecture ?? 'mlp';
  const data = syntheticDigits(examples, 1);
  const model = getArchitecture(architecture).build({ inputShape: [784], numClasses: 10, seed: 1 });
  const config: TrainConfig = { epochs, batchSize, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 1 };
  const seconds: number[] = [];
  const probe = createTrainStep(model, config);
  const denseStack = probe.usesDenseStack;
  probe.dispose();
  try {
    // Warm-up: kernel compilation (webgl shaders, wasm module) is not throughput.
    await fitLocal(model, data, { ...config, epochs: 1, maxExamples: Math.min(examples, batchSize * 4) });
    for (let r = 0; r < (options.repeats ?? 3); r++) {
      const t0 = performance.now();
      await fitLocal(model, data, config);
      seconds.push((performance.now() - t0) / 1000);
    }
  } finally {
    model.dispose();
  }
  return { backend: tf.getBackend(), architecture, examples, batchSize, epochs, seconds, samplesPerS: (examples * epochs) / Math.min(...seconds), denseStack };
}
