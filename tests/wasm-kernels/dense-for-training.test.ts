import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { denseForTraining } from '../../shared/src/wasm-kernels/dense-for-training.ts';
import { onCpuAndWasm, relativeError, seeded, setUpWasm } from './helpers.ts';

beforeAll(setUpWasm);

describe('denseForTraining: act(x·W + b) with the product taken as (Wᵀ·xᵀ)ᵀ', () => {
  const cases: Array<[string, number, number, number, boolean]> = [
    ['the MLP’s first layer (32 × 784 → 128, ReLU)', 32, 784, 128, true],
    ['linear, 8 × 20 → 24', 8, 20, 24, false],
    ['ReLU with units not a multiple of 4 (the tf-ops backward)', 4, 9, 10, true],
  ];
  for (const [name, m, k, n, relu] of cases) {
    for (const inputGradient of [true, false]) {
      it(`${name}, inputGradient ${inputGradient}: value and gradients equal to the plain ops on cpu to 1e-5`, async () => {
        const xs = seeded(m * k, 41);
        const ws = seeded(k * n, 42);
        const bs = seeded(n, 43).map((v) => v * 0.3);
        const weights = seeded(m * n, 44);
        const result = await onCpuAndWasm(() => {
          const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
            let y: tf.Tensor;
            if (tf.getBackend() === 'wasm') y = denseForTraining(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { relu, inputGradient });
            else {
              const z = tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
              y = relu ? tf.relu(z) : z;
            }
            return tf.sum(tf.mul(y, tf.tensor2d(weights, [m, n])));
          };
          const args = [tf.tensor2d(xs, [m, k]), tf.tensor2d(ws, [k, n]), tf.tensor1d(bs)];
          // Without the input gradient the op's x is a constant: only w and b are differentiated.
          const { value, grads } = inputGradient
            ? tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Tensor)(args)
            : tf.valueAndGrads((w: tf.Tensor, b: tf.Tensor) => f(args[0]!, w, b))([args[1]!, args[2]!]);
          return [value, ...grads];
        });
        result.cpu.forEach((c, i) => expect(relativeError(result.wasm[i]!, c), `output ${i}`).toBeLessThanOrEqual(1e-5));
        expect(result.wasm.length).toBe(inputGradient ? 4 : 3);
      });
    }
  }

  it('leaks no tensors over repeated steps', async () => {
    await tf.setBackend('wasm');
    const w = tf.variable(tf.tensor2d(seeded(20 * 24, 45), [20, 24]));
    const b = tf.variable(tf.tensor1d(seeded(24, 46)));
    const x = tf.tensor2d(seeded(8 * 20, 47), [8, 20]);
    const step = () => tf.tidy(() => tf.variableGrads(() => tf.sum(denseForTraining(x, w, b, { relu: true, inputGradient: false })) as tf.Scalar, [w, b]).value);
    step().dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step().dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, b, x]);
  });
});
