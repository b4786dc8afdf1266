import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The URL of tsx's ESM API (`tsx/esm/api`, import condition), found through tsx's package.json exports from `from`. */
function tsxEsmApi(from: string): string {
  const manifest = createRequire(from).resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return pathToFileURL(join(dirname(manifest), exports['./esm/api'].import.default)).href;
}

/**
 * Starts a worker thread on the module `name` next to the caller (`callerUrl` = the caller's
 * `import.meta.url`): when the caller is compiled JavaScript, the module's bundle (`<name>.bundle.cjs`, made by
 * `npm run build:js` for the workers that load tfjs: scripts/build-bundles.mjs) through a V8 code cache, or its
 * compiled `.js` sibling (no bundle, or FEDTUNE_BUNDLE=0); from TypeScript sources, its `.ts` source through
 * tsx — Node 20 workers do not inherit the parent's tsx hooks, so the worker registers them first.
 */
export function spawnModuleWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) {
    const bundle = fileURLToPath(new URL(`./${name}.bundle.cjs`, callerUrl));
    if (process.env.FEDTUNE_BUNDLE !== '0' && existsSync(bundle)) return new Worker(codeCachedBundleBoot(bundle), { ...options, eval: true });
    return new Worker(new URL(`./${name}.js`, callerUrl), options);
  }
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const boot = `import(${JSON.stringify(tsxEsmApi(callerUrl))}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/**
 * The code a worker starts with to run the CommonJS bundle `file` as its main module, as cli/bin/run-bundle.mjs
 * runs a subcommand's: compiled by `vm.Script` from the cached data in `<file>.v8-cache` when V8 accepts it;
 * when the cache is missing or rejected, the worker writes a new one (atomically: other threads may read it)
 * once the bundle's top level has run — loading its modules is what the cache saves.
 */
export function codeCachedBundleBoot(file: string): string {
  return `'use strict';
const { readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const vm = require('node:vm');
const file = ${JSON.stringify(file)};
const cacheFile = file + '.v8-cache';
let cachedData;
try { cachedData = readFileSync(cacheFile); } catch { cachedData = undefined; }
const source = readFileSync(file).toString('latin1');
const script = new vm.Script('(function (exports, require, module, __filename, __dirname, __fedtuneImport) { ' + source + '\\n})', { filename: file, cachedData });
const writeCache = cachedData === undefined || script.cachedDataRejected;
const mod = new Module(file, null);
mod.filename = file;
mod.paths = Module._nodeModulePaths(dirname(file));
Module._cache[file] = mod;
script.runInThisContext({ displayErrors: true }).call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file), (specifier) => import(specifier));
mod.loaded = true;
if (writeCache) {
  const tmp = cacheFile + '.tmp-' + process.pid + '-' + require('node:worker_threads').threadId;
  try { writeFileSync(tmp, script.createCachedData()); renameSync(tmp, cacheFile); } catch { rmSync(tmp, { force: true }); }
}
`;
}
