import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { registerWasmTrainingKernels } from '../wasm-kernels/index.ts';

export type NodeBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Preference order in Node: native GPU, native CPU, WebAssembly, pure JavaScript. */
export const NODE_BACKEND_ORDER = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type NodeBackendChoice = (typeof NODE_BACKEND_ORDER)[number];

export interface BackendSelection {
  /** The choice that won (package-level name). */
  choice: NodeBackendChoice;
  /** tfjs's name for the active backend (`tf.getBackend()`). */
  backend: string;
  /** Why each earlier choice was skipped. */
  skipped: Array<{ choice: NodeBackendChoice; reason: string }>;
}

const requireHere = createRequire(import.meta.url);

/**
 * Throws tfjs's "Cannot find package" when an optional backend package is not installed, found synchronously:
 * a failed `import()` of a missing package costs tens of ms of module resolution at every start (fast start).
 */
function requireInstalled(name: string): void {
  try {
    requireHere.resolve(name);
  } catch (err) {
    // Only a package that is not there: anything else (e.g. its exports) is left to the import to report.
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw new Error(`Cannot find package '${name}'`);
  }
}

async function tryChoice(choice: NodeBackendChoice): Promise<string> {
  switch (choice) {
    case 'tfjs-node-gpu':
      requireInstalled('@tensorflow/tfjs-node-gpu');
      // Optional dependency: present only where its install script could fetch libtensorflow.
      await import('@tensorflow/tfjs-node-gpu' as string);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('backend "tensorflow" did not initialize');
      return 'tensorflow';
    case 'tfjs-node':
      requireInstalled('@tensorflow/tfjs-node');
      await import('@tensorflow/tfjs-node' as string);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('backend "tensorflow" did not initialize');
      return 'tensorflow';
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      // tfjs 4.22's wasm backend lacks several training kernels and has slow or wrong ones: fill them in.
      registerWasmTrainingKernels();
      if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" did not initialize');
      return 'wasm';
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('backend "cpu" did not initialize');
      return 'cpu';
  }
}

let current: BackendSelection | undefined;

/**
 * Picks the fastest tfjs backend that works here, in the order tfjs-node-gpu → tfjs-node → wasm → cpu,
 * or exactly `preferred` if given. Idempotent per process (all sites in one process share one engine).
 */
export async function selectNodeBackend(preferred?: string): Promise<BackendSelection> {
  if (current && (!preferred || preferred === current.choice || preferred === current.backend)) return current;
  // Production mode: skips debug checks and tfjs's console banner; fedtune logs the backend itself.
  tf.enableProdMode();
  const order: NodeBackendChoice[] = preferred ? [normalizeChoice(preferred)] : [...NODE_BACKEND_ORDER];
  const skipped: BackendSelection['skipped'] = [];
  for (const choice of order) {
    try {
      const backend = await tryChoice(choice);
      await tf.ready();
      current = { choice, backend, skipped };
      return current;
    } catch (err) {
      skipped.push({ choice, reason: (err as Error).message.split('\n')[0] });
    }
  }
  throw new FedtuneError('backend', `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.choice}: ${s.reason}`).join('; ')}`);
}

/** One line for logs: which backend runs and why faster ones were skipped. */
export function describeBackend(selection: BackendSelection): string {
  const skipped = selection.skipped.map((s) => `${s.choice}: ${/Cannot find (package|module)/.test(s.reason) ? 'not installed' : s.reason}`);
  const hint = selection.choice === 'wasm' || selection.choice === 'cpu' ? ' (install @tensorflow/tfjs-node for native speed)' : '';
  return `tfjs backend: ${selection.backend}${skipped.length ? ` — skipped ${skipped.join(', ')}` : ''}${hint}`;
}

function normalizeChoice(name: string): NodeBackendChoice {
  const aliases: Record<string, NodeBackendChoice> = {
    'tfjs-node-gpu': 'tfjs-node-gpu',
    gpu: 'tfjs-node-gpu',
    'tfjs-node': 'tfjs-node',
    tensorflow: 'tfjs-node',
    native: 'tfjs-node',
    wasm: 'wasm',
    cpu: 'cpu',
  };
  // An own alias only: `toString` or `constructor` is an unknown backend, not Object's method.
  const choice = Object.hasOwn(aliases, name) ? aliases[name] : undefined;
  if (!choice) throw new FedtuneError('config', `unknown backend ${quoteClipped(name)} (use one of ${NODE_BACKEND_ORDER.join(', ')})`);
  return choice;
}
