import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { exactSign, signedStep } from '../../shared/src/robustness/attacks/signed-step.ts';
import { pgd } from '../../shared/src/robustness/attacks/pgd.ts';
import { fgsm } from '../../shared/src/robustness/attacks/fgsm.ts';
import { SIGNED_STEP } from '../../shared/src/wasm-kernels/kernels/signed-step.ts';
import { signedStepModuleBytes } from '../../shared/src/wasm-kernels/signed-step-kernels.ts';
import { seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
/** The unfused step with the exact sign, as tf ops: what the fused kernel must equal bit for bit. */
const unfused = (x: tf.Tensor, g: tf.Tensor, step: number, lo: tf.Tensor, hi: tf.Tensor) => tf.tidy(() => tf.minimum(tf.maximum(tf.add(x, tf.mul(exactSign(g), step)), lo), hi));

describe('the exact sign and the fused signed step (FedtuneSignedStep)', () => {
  it('tfjs-backend-wasm 4.22\'s tf.sign drops |g| < 2^-23; exactSign does not (and agrees with the cpu backend\'s sign)', async () => {
    const values = [1e-10, -1e-10, 1e-7, -1e-7, 1.1920929e-7, 1e-39, -1e-39, 0, -0, NaN, 3, -2, Infinity, -Infinity];
    const g = tf.tensor(values);
    expect(Array.from(tf.sign(g).dataSync()).slice(0, 4)).toEqual([0, 0, 0, 0]); // the quirk this works around
    expect(Array.from(exactSign(g).dataSync())).toEqual([1, -1, 1, -1, 1, 1, -1, 0, 0, 0, 1, -1, 1, -1]);
    await tf.setBackend('cpu');
    const onCpu = Array.from(tf.sign(tf.tensor(values)).dataSync());
    await tf.setBackend('wasm');
    // The cpu backend's sign is exact (NaN aside: it keeps NaN, exactSign gives 0 as tfjs-wasm's does).
    expect(onCpu.map((v) => (Number.isNaN(v) ? 0 : v))).toEqual(Array.from(exactSign(tf.tensor(values)).dataSync()));
  });

  it('the wasm module validates', () => {
    expect(WebAssembly.validate(signedStepModuleBytes())).toBe(true);
  });

  for (const shape of [[4], [32, 784], [3, 28, 28, 4], [200, 12]]) {
    it(`${JSON.stringify(shape)}: the fused kernel equals the tf-op step bit for bit — tiny, zero, NaN gradients, values at and past both bounds`, () => {
      const n = size(shape);
      const xs = seeded(n, 1).map((v) => (v + 1) / 2);
      const gs = seeded(n, 2).map((v, i) => (i % 7 === 0 ? v * 1e-9 : i % 11 === 0 ? 0 : i % 13 === 0 ? -0 : i % 17 === 0 ? NaN : i % 19 === 0 ? v * 1e-40 : v));
      const eps = 0.1;
      const x = tf.tensor(xs, shape);
      const g = tf.tensor(gs, shape);
      const lo = tf.tidy(() => tf.maximum(tf.sub(x, eps), 0));
      const hi = tf.tidy(() => tf.minimum(tf.add(x, eps), 1));
      // Start points on the bounds, inside and outside: the projections must pick the same value.
      const starts = [x, lo, hi, tf.tidy(() => tf.add(x, 0.3)), tf.tidy(() => tf.sub(x, 0.3))];
      for (const step of [0.01, 0.025, 0.1, 0]) {
        for (const start of starts) {
          const fused = tf.engine().runKernel(SIGNED_STEP, { x: start, g, lo, hi }, { step }) as tf.Tensor;
          const reference = unfused(start, g, step, lo, hi);
          expect(bits(fused)).toEqual(bits(reference));
          tf.dispose([fused, reference]);
        }
      }
      // signedStep takes the kernel here (size a multiple of 4), and the same values.
      const viaHelper = signedStep(x, g, 0.01, lo, hi);
      const reference = unfused(x, g, 0.01, lo, hi);
      expect(bits(viaHelper)).toEqual(bits(reference));
      // Tiny gradients move the value (tf.sign would not).
      const moved = Array.from(viaHelper.dataSync()).filter((v, i) => i % 7 === 0 && i % 11 !== 0 && i % 13 !== 0 && i % 17 !== 0 && i % 19 !== 0 && gs[i] !== 0 && v !== xs[i]).length;
      if (n >= 100) expect(moved).toBeGreaterThan(0);
      tf.dispose([x, g, lo, hi, ...starts.slice(1), viaHelper, reference]);
    });
  }

  it('signedStep without the kernel (a size that is not a multiple of 4, a per-feature step) takes tf ops with the exact sign', async () => {
    const x = tf.tensor([[0.5, 0.5, 0.5]]);
    const g = tf.tensor([[1e-10, -1e-10, 0]]);
    const lo = tf.zeros([1, 3]);
    const hi = tf.ones([1, 3]);
    const profile = await tf.profile(() => signedStep(x, g, 0.25, lo, hi));
    expect(profile.kernelNames).not.toContain(SIGNED_STEP);
    expect(Array.from((profile.result as tf.Tensor).dataSync())).toEqual([0.75, 0.25, 0.5]);
    const perFeature = signedStep(x, g, tf.tensor([0.1, 0.2, 0.3]), lo, hi);
    expect(Array.from(perFeature.dataSync()).map((v) => Number(v.toFixed(6)))).toEqual([0.6, 0.3, 0.5]);
    const fusedProfile = await tf.profile(() => signedStep(tf.zeros([1, 4]), tf.ones([1, 4]), 0.25, tf.zeros([1, 4]), tf.ones([1, 4])));
    expect(fusedProfile.kernelNames).toEqual([SIGNED_STEP]);
  });

  it('signedStep takes the kernel only when all of it applies: wasm, float32, a numeric step, the kernel registered, four tensors of one shape', async () => {
    const x = tf.tensor2d([[0.5, 0.5, 0.5, 0.5]]);
    const g = tf.tensor2d([[1e-10, -1e-10, 0, 2]]);
    const full = (v: number) => tf.fill([1, 4], v);
    const kernels = async (f: () => tf.Tensor) => {
      const p = await tf.profile(f);
      const values = Array.from((p.result as tf.Tensor).dataSync()).map((v) => Number(v.toFixed(6)));
      return { names: p.kernelNames, values };
    };
    const expected = [0.75, 0.25, 0.5, 0.75];
    const [zeros, ones] = [full(0), full(1)];
    const fused = await kernels(() => signedStep(x, g, 0.25, zeros, ones));
    expect(fused).toEqual({ names: [SIGNED_STEP], values: expected });
    // A per-feature step tensor, bounds that broadcast, an int32 x: tf ops, the same rule.
    const perFeature = await kernels(() => signedStep(x, g, tf.tensor([0.25, 0.25, 0.25, 0.25]), full(0), full(1)));
    expect(perFeature.names).not.toContain(SIGNED_STEP);
    expect(perFeature.values).toEqual(expected);
    const scalarBounds = await kernels(() => signedStep(x, g, 0.25, tf.scalar(0), tf.scalar(1)));
    expect(scalarBounds.names).not.toContain(SIGNED_STEP);
    expect(scalarBounds.values).toEqual(expected);
    const wideG = await kernels(() => signedStep(x, tf.tensor2d([[1e-10, -1e-10, 0, 2]], [1, 4], 'float32').reshape([1, 1, 4]), 0.25, full(0), full(1)));
    expect(wideG.names).not.toContain(SIGNED_STEP);
    const intBounds = await kernels(() => signedStep(x, g, 0.25, tf.zeros([1, 4], 'int32'), ones));
    expect(intBounds.names).not.toContain(SIGNED_STEP);
    expect(intBounds.values).toEqual(expected);
    const ints = await kernels(() => signedStep(tf.tensor2d([[0, 0, 0, 0]], [1, 4], 'int32'), g, 1, full(-1), full(1)));
    expect(ints.names).not.toContain(SIGNED_STEP);
    expect(ints.values).toEqual([1, -1, 0, 1]);
    // The kernel unregistered: tf ops.
    const config = tf.getKernel(SIGNED_STEP, 'wasm')!;
    tf.unregisterKernel(SIGNED_STEP, 'wasm');
    try {
      const without = await kernels(() => signedStep(x, g, 0.25, full(0), full(1)));
      expect(without.names).not.toContain(SIGNED_STEP);
      expect(without.values).toEqual(expected);
    } finally {
      tf.registerKernel(config);
    }
    // The cpu backend: tf ops (its sign is exact anyway), the same values.
    await tf.setBackend('cpu');
    try {
      const onCpu = await kernels(() => signedStep(tf.tensor2d([[0.5, 0.5, 0.5, 0.5]]), tf.tensor2d([[1e-10, -1e-10, 0, 2]]), 0.25, tf.zeros([1, 4]), tf.ones([1, 4])));
      expect(onCpu.names).not.toContain(SIGNED_STEP);
      expect(onCpu.values).toEqual(expected);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('PGD with per-feature units (scale): feature j moves at most ε·scale[j], a scale of 0 keeps it, and nothing leaks', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
    const x = tf.tensor2d(seeded(16, 5).map((v) => (v + 1) / 2), [4, 4]);
    const onehot = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3).cast('float32');
    const scale = Float32Array.from([1, 0, 2, 0.5]);
    const before = tf.memory().numTensors;
    const adv = pgd.run(model, x, onehot, { eps: 0.05, steps: 5, stepSize: 0.02, seed: 3, clipMin: -10, clipMax: 10, scale });
    expect(tf.memory().numTensors).toBe(before + 1);
    const a = adv.dataSync();
    const xs = x.dataSync();
    for (let i = 0; i < a.length; i++) {
      const moved = Math.abs(a[i] - xs[i]);
      expect(moved, `value ${i}`).toBeLessThanOrEqual(0.05 * scale[i % 4] + 1e-6);
      if (scale[i % 4] === 0) expect(moved).toBe(0);
    }
    // The feature with scale 2 uses its larger ball.
    expect(Array.from(a).some((v, i) => scale[i % 4] === 2 && Math.abs(v - xs[i]) > 0.05 + 1e-6)).toBe(true);
    adv.dispose();
    // The random start alone (no step): each feature within its own ball, a scale of 0 not moved at all.
    const start = pgd.run(model, x, onehot, { eps: 0.05, steps: 0, stepSize: 0.02, seed: 3, clipMin: -10, clipMax: 10, scale });
    const st = start.dataSync();
    for (let i = 0; i < st.length; i++) {
      expect(Math.abs(st[i] - xs[i]), `start ${i}`).toBeLessThanOrEqual(0.05 * scale[i % 4] + 1e-6);
      if (scale[i % 4] === 0) expect(st[i]).toBe(xs[i]);
    }
    expect(Array.from(st).some((v, i) => scale[i % 4] === 2 && Math.abs(v - xs[i]) > 0.05 + 1e-6)).toBe(true);
    start.dispose();
  });

  it('the kernel refuses what it cannot run with a plain error naming it', () => {
    const ok = tf.zeros([8]);
    const bad: Array<Record<string, tf.Tensor>> = [
      { x: tf.zeros([3]), g: tf.zeros([3]), lo: tf.zeros([3]), hi: tf.zeros([3]) }, // size not a multiple of 4
      { x: ok, g: tf.zeros([4, 2]), lo: ok, hi: ok }, // shapes differ
      { x: ok, g: ok, lo: tf.zeros([8], 'int32'), hi: ok }, // dtype
    ];
    for (const inputs of bad) expect(() => tf.engine().runKernel(SIGNED_STEP, inputs, { step: 0.1 })).toThrow(/FedtuneSignedStep/);
    expect(() => tf.engine().runKernel(SIGNED_STEP, { x: ok, g: ok, lo: ok, hi: ok }, { step: NaN })).toThrow(/FedtuneSignedStep/);
  });

  it('PGD and FGSM move a confident model\'s inputs where tf.sign would not: its input gradient is below 2^-23', () => {
    // A linear model whose logits are ±100·Σx: its softmax saturates, so ∂loss/∂x is 1e-33–1e-16 — yet its sign
    // points across the decision boundary, which an ε of 0.3 can cross.
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], useBias: false })] });
    model.layers[0].setWeights([tf.tensor2d([[100, -100], [100, -100], [100, -100], [100, -100]])]);
    const x = tf.tensor2d([[0.55, 0.55, 0.55, 0.55], [0.6, 0.6, 0.6, 0.6]]).sub(0.5) as tf.Tensor2D;
    const onehot = tf.tensor2d([[1, 0], [1, 0]]);
    const g = tf.grad((input: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, model.apply(input) as tf.Tensor, undefined, undefined, tf.Reduction.SUM))(x);
    const magnitudes = Array.from(g.abs().dataSync());
    expect(Math.max(...magnitudes)).toBeLessThan(1.1920929e-7);
    expect(Math.max(...magnitudes)).toBeGreaterThan(0);
    const correct = (adv: tf.Tensor) => Array.from(tf.argMax(model.predict(adv) as tf.Tensor, 1).dataSync()).filter((c) => c === 0).length;
    expect(correct(x)).toBe(2);
    const params = { eps: 0.3, steps: 10, stepSize: 0.05, seed: 1, clipMin: -1, clipMax: 1 };
    expect(correct(fgsm.run(model, x, onehot, params))).toBe(0);
    // PGD on the first (its random start can push the second where even the gradient underflows to exactly 0).
    expect(correct(pgd.run(model, x.slice(0, 1), onehot.slice(0, 1), params))).toBe(0);
  });

  it('PGD leaks no tensor, with the fused step and without', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [8] })] });
    const onehot = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3).cast('float32');
    for (const features of [8, 6]) {
      const m = features === 8 ? model : tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [features] })] });
      const x = tf.tensor2d(seeded(4 * features, 3), [4, features]);
      const before = tf.memory().numTensors;
      const adv = pgd.run(m, x, onehot, { eps: 0.1, steps: 3, stepSize: 0.03, seed: 2, clipMin: -1, clipMax: 1 });
      adv.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
