import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { digitsSiteDatasets, digitsSiteParts, digitsSplits, renderDigitsSite, type DigitsSplits, type DigitsSitesOptions } from '../data/digits-task.ts';
import { subset, type Dataset } from '../data/dataset.ts';
import { loadAllDigits } from './load-digits.ts';
import { spawnModuleWorker } from './spawn-module-worker.ts';
import { claimSiteRender, newSiteRenderClaims, SITE_RENDER_MAIN } from './site-render-claims.ts';
import type { RenderSitesJob, RenderSitesReply } from './render-sites-protocol.ts';

let splits: DigitsSplits | undefined;

/** The built-in digits task's fixed splits (source, holdout, pool), computed once per process. */
export function builtinDigits(): DigitsSplits {
  splits ??= digitsSplits(loadAllDigits());
  return splits;
}

/** The built-in task's site datasets for a federation of `sites` sites. */
export function builtinDigitsSites(options: DigitsSitesOptions): Dataset[] {
  return digitsSiteDatasets(builtinDigits().pool, options);
}

/**
 * Site `index` (0-based) of the built-in task's federation of `sites` sites: builtinDigitsSites(options)[index],
 * rendering that site only (a `fedtune client --data digits:K/N` needs one site's images, not N sites').
 */
export function builtinDigitsSite(index: number, options: DigitsSitesOptions): Dataset {
  const { pool } = builtinDigits();
  const parts = digitsSiteParts(pool, options);
  if (!Number.isInteger(index) || index < 0 || index >= parts.length) throw new RangeError(`site ${index} is outside 0..${parts.length - 1}`);
  return options.featureShift === false ? subset(pool, parts[index]) : renderDigitsSite(pool, parts[index], index, options.seed);
}

export interface ParallelRenderOptions {
  /** Threads that render: 2 (this one and a worker) or 1. Default: 2 when the machine has more than one core. */
  threads?: number;
  /** Hears how many sites the worker rendered (tests; 0 when it did not start or was not used). */
  onWorkerSites?: (sites: number) => void;
  /** How long this thread waits for the worker once its own sites are done (default 60 s); then it renders the rest. */
  workerTimeoutMs?: number;
  /** Starts the worker (tests inject one that fails); default render-sites-worker.ts. */
  spawnWorker?: () => Worker;
}

/**
 * `builtinDigitsSites` with the scanners' rendering (a Gaussian draw per pixel: most of a simulation's start-up)
 * shared by this thread and a worker thread: the worker renders sites from the last one down while this thread
 * renders from the first one up (site-render-claims.ts). Every site is rendered with its own seed, so the
 * datasets are the same to the bit as builtinDigitsSites'. A worker that cannot start or fails leaves its sites
 * to this thread.
 */
export async function builtinDigitsSitesInParallel(options: DigitsSitesOptions, parallel: ParallelRenderOptions = {}): Promise<Dataset[]> {
  const threads = parallel.threads ?? (availableParallelism() > 1 ? 2 : 1);
  if (threads < 2 || options.featureShift === false || options.sites < 2) {
    parallel.onWorkerSites?.(0);
    return builtinDigitsSites(options);
  }
  let worker: Worker;
  try {
    // Started first: it boots while this thread loads the digits.
    worker = parallel.spawnWorker ? parallel.spawnWorker() : spawnModuleWorker(import.meta.url, 'render-sites-worker');
  } catch {
    parallel.onWorkerSites?.(0);
    return builtinDigitsSites(options);
  }
  try {
    const { pool } = builtinDigits();
    const parts = digitsSiteParts(pool, options);
    const claims = newSiteRenderClaims(parts.length);
    const poolX = new SharedArrayBuffer(pool.x.byteLength);
    new Float32Array(poolX).set(pool.x);
    const rendered = new Map<number, Float32Array>();
    const finished = new Promise<void>((resolve) => {
      worker.on('message', (m: RenderSitesReply) => {
        if (m.kind === 'site') rendered.set(m.k, m.x);
        else resolve();
      });
      worker.once('error', () => resolve());
      worker.once('exit', () => resolve());
    });
    const job: RenderSitesJob = { poolX, poolY: pool.y, featureShape: pool.featureShape, numClasses: pool.numClasses, parts, seed: options.seed, claims };
    worker.postMessage(job);
    // The coordinator's holdout is rendered the same way (and is needed next): here, while the worker starts.
    void builtinDigits().holdout;
    const sites: Array<Dataset | undefined> = parts.map(() => undefined);
    for (let k = 0; k < parts.length; k++) {
      if (claimSiteRender(claims, k, SITE_RENDER_MAIN)) sites[k] = renderDigitsSite(pool, parts[k], k, options.seed);
    }
    // A worker that neither finishes nor fails (it should not happen) is given up on: its sites are rendered here.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, parallel.workerTimeoutMs ?? 60_000)))]);
    clearTimeout(timer);
    parallel.onWorkerSites?.(rendered.size);
    return sites.map((site, k) => {
      if (site) return site;
      const x = rendered.get(k);
      // A site the worker claimed but did not deliver (it failed) is rendered here: the same images.
      if (!x) return renderDigitsSite(pool, parts[k], k, options.seed);
      return { x, y: Int32Array.from(parts[k], (i) => pool.y[i]), featureShape: [...pool.featureShape], numClasses: pool.numClasses };
    });
  } finally {
    await worker.terminate();
  }
}
