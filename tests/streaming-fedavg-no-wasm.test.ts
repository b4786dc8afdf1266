import { afterEach, describe, expect, it, vi } from 'vitest';

// Where WebAssembly or its SIMD is missing (an old browser, a locked-down runtime), the exact streaming sum
// runs on its JS kernel with the same bits. Each test imports fresh copies of the modules, so the compiled
// kernel module cached by an earlier import does not hide a WebAssembly replaced here.
const WASM_MODULE = '../shared/src/strategies/streaming-sum/streaming-sum-wasm.ts';
const FEDAVG_MODULE = '../shared/src/strategies/streaming-fedavg.ts';

type WasmSide = typeof import('../shared/src/strategies/streaming-sum/streaming-sum-wasm.ts');
type FedAvgSide = typeof import('../shared/src/strategies/streaming-fedavg.ts');

async function fresh(): Promise<{ wasm: WasmSide; fedavg: FedAvgSide }> {
  vi.resetModules();
  return { wasm: (await import(WASM_MODULE)) as WasmSide, fedavg: (await import(FEDAVG_MODULE)) as FedAvgSide };
}

/** WebAssembly as it is, but compiling any module fails (as it does for a SIMD module without SIMD). */
function stubFailingCompile(): { compiles: () => number } {
  let compiles = 0;
  const real = globalThis.WebAssembly;
  vi.stubGlobal('WebAssembly', {
    ...real,
    Module: class {
      constructor() {
        compiles++;
        throw new real.CompileError('SIMD is not supported');
      }
    },
    Instance: real.Instance,
  });
  return { compiles: () => compiles };
}

const bits = (ws: Float32Array[]): string => ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('|');

function updates(): Array<{ ws: Float32Array[]; n: number }> {
  return Array.from({ length: 7 }, (_, k) => ({
    ws: [Float32Array.from({ length: 37 }, (_, i) => Math.fround(Math.sin(k * 7 + i * 3) * (k % 3 === 1 ? 2 ** 20 : 0.5))), Float32Array.from({ length: 5 }, (_, i) => Math.fround(Math.cos(k + i)))],
    n: k % 2 === 0 ? 2 ** 29 - 1 - k : 1 + k,
  }));
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

describe('the exact streaming sum without wasm SIMD', () => {
  it('a module that does not compile: not available, the wasm kernel refuses with a clear error, and StreamingFedAvg sums on its JS kernel with the wasm kernel’s bits', async () => {
    const reference = await fresh();
    const withWasm = new reference.fedavg.StreamingFedAvg([37, 5]);
    expect(withWasm.kernelKind).toBe('wasm');
    for (const u of updates()) withWasm.add(u.ws, u.n);
    const expected = bits(withWasm.result());

    stubFailingCompile();
    const { wasm, fedavg } = await fresh();
    expect(wasm.wasmSumAvailable()).toBe(false);
    expect(() => wasm.createWasmSumKernel(8)).toThrow(new Error('wasm SIMD is not available'));
    const sum = new fedavg.StreamingFedAvg([37, 5]);
    expect(sum.kernelKind).toBe('js');
    for (const u of updates()) sum.add(u.ws, u.n);
    expect(bits(sum.result())).toBe(expected);
  });

  it('the kernel module is compiled once, whether it compiles or not', async () => {
    const failing = stubFailingCompile();
    const { wasm } = await fresh();
    expect(wasm.wasmSumAvailable()).toBe(false);
    expect(wasm.wasmSumAvailable()).toBe(false);
    expect(() => wasm.createWasmSumKernel(8)).toThrow('wasm SIMD is not available');
    expect(failing.compiles()).toBe(1);

    vi.unstubAllGlobals();
    const real = globalThis.WebAssembly;
    let compiles = 0;
    vi.stubGlobal('WebAssembly', {
      ...real,
      Module: class extends real.Module {
        constructor(bytes: BufferSource) {
          compiles++;
          super(bytes);
        }
      },
      Instance: real.Instance,
    });
    const again = await fresh();
    expect(again.wasm.wasmSumAvailable()).toBe(true);
    again.wasm.createWasmSumKernel(8);
    again.wasm.createWasmSumKernel(16);
    expect(again.wasm.wasmSumAvailable()).toBe(true);
    expect(compiles).toBe(1);
  });

  it('no WebAssembly at all: not available, even with the kernel compiled before it went away', async () => {
    const { wasm } = await fresh();
    expect(wasm.wasmSumAvailable()).toBe(true); // compiled and cached
    vi.stubGlobal('WebAssembly', undefined);
    expect(wasm.wasmSumAvailable()).toBe(false);
  });

  it('refuses a carry interval that is not a positive integer, saying so', async () => {
    const { wasm } = await fresh();
    expect(() => wasm.createWasmSumKernel(8, 0)).toThrow(new RangeError('carryEvery must be a positive integer'));
  });

  it('a mean is the caller’s own copy: later sums in the kernel’s memory do not change it', async () => {
    const { wasm } = await fresh();
    const k = wasm.createWasmSumKernel(8);
    const feed = (values: number[], ns: number) => k.commit(ns, k.stage(Float32Array.from(values), 0));
    feed([1, 2, 3, 4], 1);
    k.flush();
    const first = k.mean(0, 4, 1);
    expect(Array.from(first)).toEqual([1, 2, 3, 4]);
    k.reset();
    feed([-5, 6, -7, 8], 1);
    k.flush();
    expect(Array.from(k.mean(0, 4, 1))).toEqual([-5, 6, -7, 8]);
    expect(Array.from(first)).toEqual([1, 2, 3, 4]);
  });
});
