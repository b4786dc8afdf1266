/**
 * A wasm module's exports instantiated against a memory (tfjs-backend-wasm's heap, imported as env.memory),
 * compiled once per memory; undefined where the module cannot be instantiated (no wasm SIMD). Every hand-written
 * kernel module of this folder binds itself through this.
 */
export function memoryBoundKernels<K>(moduleBytes: () => Uint8Array<ArrayBuffer>): (memory: WebAssembly.Memory) => K | undefined {
  const instances = new WeakMap<WebAssembly.Memory, K | null>();
  return (memory) => {
    let k = instances.get(memory);
    if (k === undefined) {
      try {
        k = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), { env: { memory } }).exports as unknown as K;
      } catch {
        k = null;
      }
      instances.set(memory, k);
    }
    return k ?? undefined;
  };
}

/**
 * `memoryBoundKernels` for modules generated per geometry (single-channel-conv-kernels.ts,
 * single-output-conv-kernels.ts): each geometry's module compiled once (by `keyOf`), instantiated once per
 * memory; undefined where it cannot be (no wasm SIMD). The caller checks that the geometry is supported first.
 */
export function geometryBoundKernels<G, K>(keyOf: (geometry: G) => string, moduleBytes: (geometry: G) => Uint8Array<ArrayBuffer>): (memory: WebAssembly.Memory, geometry: G) => K | undefined {
  const compiled = new Map<string, WebAssembly.Module | null>();
  const bound = new WeakMap<WebAssembly.Memory, Map<string, K | null>>();
  return (memory, geometry) => {
    const key = keyOf(geometry);
    let perMemory = bound.get(memory);
    if (!perMemory) bound.set(memory, (perMemory = new Map()));
    let kernel = perMemory.get(key);
    if (kernel === undefined) {
      let module = compiled.get(key);
      if (module === undefined) {
        try {
          module = new WebAssembly.Module(moduleBytes(geometry));
        } catch {
          module = null;
        }
        compiled.set(key, module);
      }
      try {
        kernel = module ? (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as K) : null;
      } catch {
        kernel = null;
      }
      perMemory.set(key, kernel);
    }
    return kernel ?? undefined;
  };
}
