/**
 * Training throughput of the cpu backend vs wasm + registerWasmTrainingKernels, and the replaced stock wasm
 * kernels vs ours. Run: npx tsx bench/wasm-kernels.ts   (about 1–2 minutes on 2 cores)
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../shared/src/wasm-kernels/index.ts';

const BATCH = 32;

interface ModelCase {
  name: string;
  build: () => tf.LayersModel;
  batch: () => { x: tf.Tensor; y: tf.Tensor };
}

function seededUniform(shape: number[], seed: number, lo = 0, hi = 1): tf.Tensor {
  return tf.randomUniform(shape, lo, hi, 'float32', seed);
}

function oneHotLabels(seed: number): tf.Tensor {
  return tf.tidy(() => tf.oneHot(tf.cast(tf.floor(seededUniform([BATCH], seed, 0, 10)), 'int32'), 10));
}

const compile = (m: tf.LayersModel): tf.LayersModel => {
  m.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
  return m;
};

const cases: ModelCase[] = [
  {
    name: 'cnn',
    build: () =>
      compile(
        tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu' }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 10, activation: 'softmax' }),
          ],
        }),
      ),
    batch: () => ({ x: seededUniform([BATCH, 28, 28, 1], 1), y: oneHotLabels(2) }),
  },
  {
    name: 'depthwise-separable',
    build: () =>
      compile(
        tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
            tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu' }),
            tf.layers.conv2d({ filters: 32, kernelSize: 1, activation: 'relu' }),
            tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, depthMultiplier: 2, padding: 'same', activation: 'relu' }),
            tf.layers.globalAveragePooling2d({}),
            tf.layers.dense({ units: 10, activation: 'softmax' }),
          ],
        }),
      ),
    batch: () => ({ x: seededUniform([BATCH, 28, 28, 1], 3), y: oneHotLabels(4) }),
  },
  {
    name: 'embedding',
    build: () =>
      compile(
        tf.sequential({
          layers: [
            tf.layers.embedding({ inputDim: 1000, outputDim: 32, inputLength: 40 }),
            tf.layers.globalAveragePooling1d({}),
            tf.layers.dense({ units: 32, activation: 'relu' }),
            tf.layers.dense({ units: 10, activation: 'softmax' }),
          ],
        }),
      ),
    batch: () => ({ x: tf.tidy(() => tf.floor(seededUniform([BATCH, 40], 5, 0, 1000))), y: oneHotLabels(6) }),
  },
  {
    name: 'lstm',
    build: () =>
      compile(
        tf.sequential({
          layers: [
            tf.layers.lstm({ inputShape: [20, 8], units: 32 }),
            tf.layers.dense({ units: 10, activation: 'softmax' }),
          ],
        }),
      ),
    batch: () => ({ x: seededUniform([BATCH, 20, 8], 7), y: oneHotLabels(8) }),
  },
];

/**
 * Samples/s of trainOnBatch over at least `minSteps` steps and `minMs` ms, after one warm-up step. A warm-up
 * step slower than 2 s (the cpu backend) is itself the measurement, to keep the run short.
 */
async function trainingRate(c: ModelCase, minSteps: number, minMs: number): Promise<{ samplesPerSec: number; steps: number }> {
  const model = c.build();
  const { x, y } = c.batch();
  const warm = performance.now();
  await model.trainOnBatch(x, y);
  const warmMs = performance.now() - warm;
  let steps = 0;
  let ms = 0;
  if (warmMs > 2000) {
    steps = 1;
    ms = warmMs;
  } else {
    const start = performance.now();
    while (steps < minSteps || performance.now() - start < minMs) {
      await model.trainOnBatch(x, y);
      steps++;
    }
    ms = performance.now() - start;
  }
  model.dispose();
  tf.dispose([x, y]);
  return { samplesPerSec: (steps * BATCH * 1000) / ms, steps };
}

/** Mean ms of a synchronous kernel call (result read back), after warm-up. */
function kernelMs(f: () => tf.TensorInfo, reps = 20): number {
  const backend = tf.backend();
  const run = (): void => {
    const info = f();
    backend.readSync(info.dataId);
    backend.disposeData(info.dataId);
  };
  for (let i = 0; i < 3; i++) run();
  const start = performance.now();
  for (let i = 0; i < reps; i++) run();
  return (performance.now() - start) / reps;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const training: Array<{ model: string; cpuSamplesPerSec: number; wasmSamplesPerSec: number; ratio: number }> = [];
  const cpuRates = new Map<string, number>();

  await tf.setBackend('cpu');
  for (const c of cases) cpuRates.set(c.name, (await trainingRate(c, 2, 1500)).samplesPerSec);

  await tf.setBackend('wasm');
  await tf.ready();
  const stock = new Map(['Conv2DBackpropInput', 'MaxPoolGrad', 'BatchMatMul', 'Tile'].map((n) => [n, tf.getKernel(n, 'wasm')!]));
  registerWasmTrainingKernels();
  for (const c of cases) {
    const wasm = (await trainingRate(c, 5, 3000)).samplesPerSec;
    const cpu = cpuRates.get(c.name)!;
    training.push({ model: c.name, cpuSamplesPerSec: round(cpu), wasmSamplesPerSec: round(wasm), ratio: round(wasm / cpu) });
  }

  // Replaced stock kernels vs ours, on shapes from the CNN above (batch 32).
  const backend = tf.backend();
  const runStock = (name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => () =>
    stock.get(name)!.kernelFunc({ inputs, attrs, backend }) as tf.TensorInfo;
  const runOurs = (name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => () => {
    const t = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs) as tf.Tensor;
    backend.incRef(t.dataId);
    t.dispose();
    return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  };
  const kernels: Array<{ kernel: string; shape: string; stockMs: number; oursMs: number; speedup: number }> = [];
  const compare = (kernel: string, shape: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): void => {
    const stockMs = kernelMs(runStock(kernel, inputs, attrs));
    const oursMs = kernelMs(runOurs(kernel, inputs, attrs));
    kernels.push({ kernel, shape, stockMs: round(stockMs, 3), oursMs: round(oursMs, 3), speedup: round(stockMs / oursMs) });
  };
  const keep: tf.Tensor[] = [];
  const t = <T extends tf.Tensor>(x: T): T => (keep.push(x), x);
  const dy26 = t(tf.randomNormal([BATCH, 26, 26, 8]));
  const w8 = t(tf.randomNormal([3, 3, 8, 8]));
  compare('Conv2DBackpropInput', 'dy [32,26,26,8], 3x3x8x8, same', { dy: dy26, filter: w8 }, {
    strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [BATCH, 26, 26, 8],
  });
  const dy11 = t(tf.randomNormal([BATCH, 11, 11, 16]));
  const w816 = t(tf.randomNormal([3, 3, 8, 16]));
  compare('Conv2DBackpropInput', 'dy [32,11,11,16], 3x3x8x16, valid', { dy: dy11, filter: w816 }, {
    strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [BATCH, 13, 13, 8],
  });
  const dy13 = t(tf.randomNormal([BATCH, 13, 13, 8]));
  compare('Conv2DBackpropInput', 'dy [32,13,13,8], 3x3x8x8, stride 2 same', { dy: dy13, filter: w8 }, {
    strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [BATCH, 26, 26, 8],
  });
  const xp = t(tf.randomNormal([BATCH, 26, 26, 8]));
  const yp = t(tf.maxPool(xp as tf.Tensor4D, 2, 2, 'valid'));
  const dyp = t(tf.randomNormal(yp.shape));
  compare('MaxPoolGrad', 'x [32,26,26,8], 2x2/2 valid', { dy: dyp, input: xp, output: yp }, { filterSize: 2, strides: 2, pad: 'valid' });
  const a = t(tf.randomNormal([BATCH, 1352]));
  const d = t(tf.randomNormal([BATCH, 10]));
  const wd = t(tf.randomNormal([1352, 10]));
  compare('BatchMatMul', 'x^T·dy [1352,32]x[32,10] (dense dW)', { a, b: d }, { transposeA: true, transposeB: false });
  compare('BatchMatMul', 'dy·W^T [32,10]x[10,1352] (dense dx)', { a: d, b: wd }, { transposeA: false, transposeB: true });
  const v = t(tf.randomNormal([1, 16]));
  compare('Tile', '[1,16] x [21632,1] (BatchNorm grad)', { x: v }, { reps: [21632, 1] });
  tf.dispose(keep);

  console.log('\nTraining samples/s (batch 32, trainOnBatch), cpu backend vs wasm + registerWasmTrainingKernels');
  console.table(training);
  console.log('Replaced stock wasm kernels vs ours (ms per call, result read back)');
  console.table(kernels);
  const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  console.log(JSON.stringify({ tfjs: tf.version.tfjs, wasmSimd: simd, wasmThreads: threads, training, kernels, seconds: round((performance.now() - t0) / 1000) }, null, 2));
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

await main();
