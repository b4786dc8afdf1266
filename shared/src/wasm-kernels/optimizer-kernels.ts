import { memoryBoundKernels } from './memory-bound-kernels.ts';

/**
 * The fused optimizer updates (SGD, momentum, Adam) as a small WebAssembly SIMD module that works directly on
 * tfjs-backend-wasm's heap: it imports the backend's own `WebAssembly.Memory`, so variables, gradients, moment
 * buffers and outputs are addressed by their heap offsets, and each variable is updated in one pass of f32x4
 * operations. Every operation is the IEEE float32 one tfjs's kernels apply, in the same order, so the results
 * equal tf.train's to the bit (see learning/optimizer-updates.ts for the formulas; its scalar loops handle
 * the last n mod 4 elements).
 *
 * The module (about 300 bytes) is written here as bytes rather than compiled from a source language, to need
 * no toolchain. `optimizerKernels(memory)` returns undefined when the runtime has no wasm SIMD.
 */

/** Byte offsets on the heap; `bytes` is a multiple of 16 (the SIMD part). */
export interface OptimizerKernels {
  sgd(w: number, g: number, out: number, bytes: number, negLr: number): void;
  momentum(w: number, g: number, acc: number, out: number, bytes: number, negLr: number, momentum: number): void;
  adam(w: number, g: number, m: number, v: number, out: number, bytes: number, beta1: number, beta2: number, oneMinusBeta1: number, oneMinusBeta2: number, oneMinusAccBeta1: number, oneMinusAccBeta2: number, epsilon: number, negLr: number): void;
}

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

// Instructions.
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
export const load = (ptr: number, i: number): number[] => [...get(ptr), ...get(i), 0x6a, ...simd(0), 0, 0]; // v128.load (ptr + i)
export const splat = [...simd(0x13)];
export const [ADD, SUB, MUL, DIV, SQRT] = [simd(0xe4), simd(0xe5), simd(0xe6), simd(0xe7), simd(0xe3)];
void SUB;
export const store = (ptr: number, i: number, value: number[]): number[] => [...get(ptr), ...get(i), 0x6a, ...value, ...simd(0x0b), 0, 0];

/** `for (i = 0; i < bytes; i += 16) body` with i the local `i` and bytes the param `bytes`. */
export const loop = (i: number, bytes: number, body: number[]): number[] => [
  0x02, 0x40, 0x03, 0x40,
  ...get(i), ...get(bytes), 0x4f, 0x0d, 1, // i >= bytes → break
  ...body,
  ...get(i), 0x41, 16, 0x6a, ...set(i), // i += 16
  0x0c, 0, 0x0b, 0x0b,
];

/** A function body: local declarations (groups of [count, type]) and code. */
export const body = (locals: Array<[number, number]>, code: number[]): number[] => {
  const b = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, 0x0b];
  return [...uleb(b.length), ...b];
};

function moduleBytes(): Uint8Array<ArrayBuffer> {
  // sgd(w, g, out, bytes, negLr): out = negLr·g + w. Locals: i = 5, c = 6.
  const sgd = body([[1, I32], [1, V128]], [
    ...get(4), ...splat, ...set(6),
    ...loop(5, 3, store(2, 5, [...get(6), ...load(1, 5), ...MUL, ...load(0, 5), ...ADD])),
  ]);
  // momentum(w, g, acc, out, bytes, negLr, m): a = m·acc + g; acc = a; out = negLr·a + w. Locals: i = 7, c = 8, mv = 9, a = 10.
  const momentum = body([[1, I32], [3, V128]], [
    ...get(5), ...splat, ...set(8), ...get(6), ...splat, ...set(9),
    ...loop(7, 4, [
      ...get(9), ...load(2, 7), ...MUL, ...load(1, 7), ...ADD, ...set(10),
      ...store(2, 7, get(10)),
      ...store(3, 7, [...get(8), ...get(10), ...MUL, ...load(0, 7), ...ADD]),
    ]),
  ]);
  // adam(w, g, m, v, out, bytes, b1, b2, omb1, omb2, omab1, omab2, eps, negLr). Params 0–13; locals: i = 14,
  // splats 15–22 (of params 6–13), gi = 23, mi = 24, vi = 25.
  const adam = body([[1, I32], [11, V128]], [
    ...Array.from({ length: 8 }, (_, k) => [...get(6 + k), ...splat, ...set(15 + k)]).flat(),
    ...loop(14, 5, [
      ...load(1, 14), ...set(23),
      // mi = m·b1 + g·omb1
      ...load(2, 14), ...get(15), ...MUL, ...get(23), ...get(17), ...MUL, ...ADD, ...set(24),
      // vi = v·b2 + (g·g)·omb2
      ...load(3, 14), ...get(16), ...MUL, ...get(23), ...get(23), ...MUL, ...get(18), ...MUL, ...ADD, ...set(25),
      ...store(2, 14, get(24)),
      ...store(3, 14, get(25)),
      // out = ((mi / omab1) / (sqrt(vi / omab2) + eps)) · negLr + w
      ...store(4, 14, [
        ...get(24), ...get(19), ...DIV,
        ...get(25), ...get(20), ...DIV, ...SQRT, ...get(21), ...ADD,
        ...DIV, ...get(22), ...MUL, ...load(0, 14), ...ADD,
      ]),
    ]),
  ]);
  const types = [
    [0x60, ...vec([[I32], [I32], [I32], [I32], [F32]]), 0],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [F32], [F32]]), 0],
    [0x60, ...vec([...Array(6).fill([I32]), ...Array(8).fill([F32])]), 0],
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0], [1], [2]])),
    ...section(7, vec([[...name('sgd'), 0x00, 0], [...name('momentum'), 0x00, 1], [...name('adam'), 0x00, 2]])),
    ...section(10, vec([sgd, momentum, adam])),
  ]);
}

/** The kernels bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const optimizerKernels: (memory: WebAssembly.Memory) => OptimizerKernels | undefined = memoryBoundKernels<OptimizerKernels>(moduleBytes);

/** tfjs-backend-wasm's exported memory (its Emscripten module's `asm.memory`), if the backend exposes it. */
export function wasmBackendMemory(backend: unknown): WebAssembly.Memory | undefined {
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } } | null)?.wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}
