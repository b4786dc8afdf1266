import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { FedtuneError, registerWasmTrainingKernels } from '@fedtune/shared';

/** Preference order in the browser: GPU (WebGL), WebAssembly, pure JavaScript. */
export const BROWSER_BACKEND_ORDER = ['webgl', 'wasm', 'cpu'] as const;
export type BrowserBackendName = (typeof BROWSER_BACKEND_ORDER)[number];

export interface BrowserBackendSelection {
  backend: BrowserBackendName;
  /** Why each earlier backend was skipped. */
  skipped: Array<{ backend: BrowserBackendName; reason: string }>;
}

/** Where the page serves tfjs's wasm binaries (copied into the build by vite.config.ts). */
export function wasmBinariesUrl(): string {
  return new URL(`${import.meta.env.BASE_URL}tfjs-wasm/`, window.location.href).href;
}

/** The WebGL renderer's name if it is a software rasterizer (no GPU), else undefined. */
export function softwareWebglRenderer(): string | undefined {
  const canvas = document.createElement('canvas');
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (!gl) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer) ? renderer : undefined;
}

async function tryBackend(name: BrowserBackendName, automatic: boolean): Promise<void> {
  if (name === 'webgl' && automatic) {
    // WebGL on a software rasterizer (a machine without a usable GPU) trains slower than wasm SIMD.
    const software = softwareWebglRenderer();
    if (software) throw new Error(`software WebGL (${software}) is slower than wasm`);
  }
  if (name === 'wasm') {
    setWasmPaths(wasmBinariesUrl());
    // tfjs 4.22's wasm backend lacks several training kernels: the shared module fills them in.
    registerWasmTrainingKernels();
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend "${name}" did not initialize`);
  await tf.ready();
  // A backend can register and still fail at the first kernel (e.g. a WebGL context without float textures).
  const probe = tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).sum());
  const value = (await probe.data())[0];
  probe.dispose();
  if (value !== 8) throw new Error(`backend "${name}" computed a wrong result`);
}

/**
 * Picks the fastest tfjs backend that works in this tab, in the order webgl → wasm → cpu (skipping WebGL
 * that runs on a software rasterizer), or exactly `preferred` if given (e.g. a `?backend=` link parameter).
 */
export async function selectBrowserBackend(preferred?: string): Promise<BrowserBackendSelection> {
  tf.enableProdMode();
  if (preferred && !(BROWSER_BACKEND_ORDER as readonly string[]).includes(preferred)) {
    throw new FedtuneError('config', `unknown backend "${preferred}" (use one of ${BROWSER_BACKEND_ORDER.join(', ')})`);
  }
  const order = preferred ? [preferred as BrowserBackendName] : [...BROWSER_BACKEND_ORDER];
  const skipped: BrowserBackendSelection['skipped'] = [];
  for (const backend of order) {
    try {
      await tryBackend(backend, !preferred);
      return { backend, skipped };
    } catch (err) {
      skipped.push({ backend, reason: (err as Error).message.split('\n')[0].slice(0, 200) });
    }
  }
  throw new FedtuneError('backend', `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

/** One line for the page: which backend runs and why faster ones were skipped. */
export function describeBrowserBackend(selection: BrowserBackendSelection): string {
  const skipped = selection.skipped.map((s) => `${s.backend}: ${s.reason}`);
  return `${selection.backend}${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`;
}
