import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import { registerWasmTrainingKernels } from '../../shared/src/wasm-kernels/index.ts';

/** Registers our kernels; returns when wasm is usable. */
export async function setUpWasm(): Promise<void> {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
}

/** Deterministic values in [-1, 1) (Park–Miller), so cpu and wasm see identical inputs. */
export function seeded(n: number, seed: number): Float32Array {
  let s = (seed * 7919 + 1) % 2147483647;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    out[i] = (s / 2147483647) * 2 - 1;
  }
  return out;
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Runs `f` (which must build its tensors from plain arrays) on the cpu backend and then on wasm, and returns
 * the outputs of both as arrays. Leaves wasm as the active backend.
 */
export async function onCpuAndWasm(f: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const run = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(list);
    return values;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

/** max |a - b| relative to the magnitude of the reference (at least 1). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return Number.isNaN(err) ? Infinity : err / scale;
}

/** Asserts every wasm output matches its cpu counterpart within `tol` relative error. */
export function expectClose(result: { cpu: Float32Array[]; wasm: Float32Array[] }, tol = 1e-4, label = ''): void {
  expect(result.wasm.length, label).toBe(result.cpu.length);
  result.cpu.forEach((expected, i) => {
    expect(relativeError(result.wasm[i]!, expected), `${label} output ${i}`).toBeLessThanOrEqual(tol);
  });
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
