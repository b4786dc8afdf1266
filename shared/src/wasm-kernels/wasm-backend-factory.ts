import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { dropProcessHandlersAddedBy } from './drop-process-handlers-added-by.ts';

/** Marks a replaced factory, so that a second copy of this module (a bundle, a worker) leaves it alone. */
export const WITHOUT_PROCESS_HANDLERS = Symbol.for('fedtune.backendFactoryWithoutProcessHandlers');

interface EngineRegistries {
  registry: Record<string, unknown>;
  registryFactory: Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number } | undefined>;
}

/**
 * Replaces the registered factory of the tfjs backend `name` by one that starts the backend the same way and
 * then removes the process listeners its start added (drop-process-handlers-added-by.ts). Every way a backend
 * can start goes through its factory: `tf.setBackend(name)`, and tfjs picking it (the highest priority
 * registered) at the first tensor of a process that chose none. Returns whether it replaced the factory: not
 * when none is registered, not when it already did, and not when the backend has already started (too late: its
 * listeners are in place).
 */
export function dropProcessHandlersOfBackend(name: string): boolean {
  const engine = tf.engine() as unknown as EngineRegistries;
  const entry = engine.registryFactory[name];
  if (!entry || (entry.factory as unknown as Record<symbol, unknown>)[WITHOUT_PROCESS_HANDLERS] === true) return false;
  if (engine.registry[name] !== undefined) return false;
  const stock = entry.factory;
  const guarded = () => dropProcessHandlersAddedBy(async () => stock());
  Object.defineProperty(guarded, WITHOUT_PROCESS_HANDLERS, { value: true });
  tf.removeBackend(name);
  tf.registerBackend(name, guarded, entry.priority);
  return true;
}

// tfjs-backend-wasm 4.22's Emscripten module adds fatal process listeners when it starts in Node.
dropProcessHandlersOfBackend('wasm');
