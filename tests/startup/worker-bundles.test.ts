import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_WORKERS, esModuleEntry, workerBundleFile } from '../../scripts/build-bundles.mjs';
import { codeCachedBundleBoot, spawnModuleWorker } from '../../shared/src/node/spawn-module-worker.ts';
import { compiledEntry } from '../../cli/bin/compiled-entry.mjs';
import { evaluateModel, modelTopology, readModelWeights } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { head } from '../helpers/federation.ts';

// The worker threads that load tfjs run as bundles through a V8 code cache (scripts/build-bundles.mjs
// BUNDLED_WORKERS, shared/src/node/spawn-module-worker.ts), as the bundled subcommands do.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fedtune-worker-bundle-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function requireCurrentBuild(): void {
  const entry = compiledEntry(ROOT);
  if (!entry.url) throw new Error(`the compiled build is not current (${entry.reason}): run npm run build:js (npm test does)`);
}

/** The first message of a worker (or its error), then it is terminated. */
function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('codeCachedBundleBoot: a CommonJS bundle as a worker’s main module, through a V8 code cache', () => {
  const bundleSource = [
    "const { parentPort } = require('node:worker_threads');",
    'const answer = (function inner(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; })(10);',
    "__fedtuneImport('node:path').then((path) => parentPort.postMessage({ file: __filename, dir: __dirname, answer, sep: path.sep, isMain: require.main === undefined || typeof module === 'object' }));",
  ].join('\n');

  it('runs the bundle with its own __filename, __dirname, require and import; writes the cache when missing or rejected, keeps it when accepted', async () => {
    const dir = mkdtempSync(join(work, 'boot-'));
    const file = join(dir, 'probe.bundle.cjs');
    writeFileSync(file, bundleSource, 'latin1');
    const cache = `${file}.v8-cache`;
    const run = () => firstMessage(new Worker(codeCachedBundleBoot(file), { eval: true }));
    expect(await run()).toEqual({ file, dir, answer: 45, sep: '/', isMain: true });
    expect(existsSync(cache)).toBe(true);
    const written = readFileSync(cache);
    const mtime = statSync(cache).mtimeMs;
    // Accepted: used as is, not rewritten.
    expect(await run()).toMatchObject({ answer: 45 });
    expect(statSync(cache).mtimeMs).toBe(mtime);
    expect(readFileSync(cache).equals(written)).toBe(true);
    // Rejected (not V8's data): the worker still runs, and writes a cache V8 accepts.
    writeFileSync(cache, Buffer.from('not a code cache'));
    expect(await run()).toMatchObject({ answer: 45 });
    expect(readFileSync(cache).toString('latin1')).not.toBe('not a code cache');
  }, 60_000);
});

describe('spawnModuleWorker: a compiled caller’s worker runs its bundle when there is one', () => {
  function fakeModules(withBundle: boolean): string {
    const dir = mkdtempSync(join(work, 'mods-'));
    writeFileSync(join(dir, 'w.js'), "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage('module');\n");
    if (withBundle) writeFileSync(join(dir, 'w.bundle.cjs'), "require('node:worker_threads').parentPort.postMessage('bundle');\n");
    return pathToFileURL(join(dir, 'caller.js')).href;
  }

  it.each([
    ['a bundle', true, {}, 'bundle'],
    ['a bundle, FEDTUNE_BUNDLE=0', true, { FEDTUNE_BUNDLE: '0' }, 'module'],
    ['no bundle', false, {}, 'module'],
  ] as const)('%s → the %s', async (_, withBundle, env, expected) => {
    const caller = fakeModules(withBundle);
    const saved = process.env.FEDTUNE_BUNDLE;
    if ('FEDTUNE_BUNDLE' in env) process.env.FEDTUNE_BUNDLE = env.FEDTUNE_BUNDLE;
    try {
      expect(await firstMessage(spawnModuleWorker(caller, 'w'))).toBe(expected);
    } finally {
      if (saved === undefined) delete process.env.FEDTUNE_BUNDLE;
      else process.env.FEDTUNE_BUNDLE = saved;
    }
  });
});

describe('the built worker bundles (npm run build:js first)', () => {
  it.each(BUNDLED_WORKERS)('%s: bundled, with one tfjs-core', (worker) => {
    requireCurrentBuild();
    const bundle = workerBundleFile(join(ROOT, worker));
    expect(existsSync(bundle)).toBe(true);
    const count = (text: string) => text.split('_tfengine').length - 1;
    const once = count(readFileSync(esModuleEntry(ROOT, '@tensorflow/tfjs-core').replace(/index\.js$/, 'engine.js'), 'utf8'));
    expect(count(readFileSync(bundle, 'latin1'))).toBe(once);
  });

  it('the compiled evaluation thread runs its worker from the bundle, with the numbers of an in-process evaluation', async () => {
    requireCurrentBuild();
    await selectNodeBackend();
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const holdout = head(builtinDigits().holdout, 300);
    const { EvaluationThread } = (await import(pathToFileURL(join(ROOT, 'coordinator', 'dist', 'evaluation', 'evaluation-thread.js')).href)) as typeof import('../../coordinator/src/evaluation/evaluation-thread.ts');
    const thread = new EvaluationThread({ backend: 'wasm', topology: modelTopology(model), holdout, probes: [] });
    try {
      expect(await thread.ready).toBe(true);
      const weights = readModelWeights(model).arrays;
      const here = evaluateModel(model, holdout);
      expect(await thread.evaluate(weights)).toEqual({ accuracy: here.accuracy, loss: here.loss });
      // It ran the bundle: the bundle's code cache exists (written by the build's warm-up or the first worker).
      expect(existsSync(`${workerBundleFile(join(ROOT, BUNDLED_WORKERS[0]))}.v8-cache`)).toBe(true);
    } finally {
      await thread.close();
      model.dispose();
    }
  }, 120_000);
});
