import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { dropProcessHandlersAddedBy } from './drop-process-handlers-added-by.ts';

/** Marks the replaced factory, so that a second copy of this module (a bundle, a worker) leaves it alone. */
const WITHOUT_PROCESS_HANDLERS = Symbol.for('fedtune.wasmFactoryWithoutProcessHandlers');

interface EngineRegistries {
  registry: Record<string, unknown>;
  registryFactory: Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number } | undefined>;
}

/**
 * Replaces tfjs-backend-wasm's registered factory by one that starts the backend the same way and then removes
 * the process listeners its Emscripten module added (drop-process-handlers-added-by.ts). Every way the backend
 * can start goes through the factory: `tf.setBackend('wasm')`, and tfjs picking it (the highest priority
 * registered) at the first tensor of a process that chose none. Returns whether it replaced the factory: not
 * when it already did, and not when the backend has already started (too late: its listeners are in place).
 */
export function guardWasmBackendFactory(): boolean {
  const engine = tf.engine() as unknown as EngineRegistries;
  const entry = engine.registryFactory.wasm;
  if (!entry || (entry.factory as unknown as Record<symbol, unknown>)[WITHOUT_PROCESS_HANDLERS] === true) return false;
  if (engine.registry.wasm !== undefined) return false;
  const stock = entry.factory;
  const guarded = () => dropProcessHandlersAddedBy(async () => stock());
  Object.defineProperty(guarded, WITHOUT_PROCESS_HANDLERS, { value: true });
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', guarded, entry.priority);
  return true;
}

guardWasmBackendFactory();
