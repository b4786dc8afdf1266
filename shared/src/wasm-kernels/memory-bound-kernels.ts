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
