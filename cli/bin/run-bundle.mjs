// Runs a bundled subcommand (cli/dist/bundles/<command>.cjs, scripts/build-bundles.mjs) through a V8 code
// cache: the bundle is compiled by `vm.Script` with the cached data in <bundle>.v8-cache when there is one,
// so V8 deserializes the compiled functions instead of parsing and compiling ~6–9 MB of JavaScript at every
// start (Node 20 has no module compile cache). When the cache is missing or V8 rejects it (another Node or
// V8 flags, a rebuilt bundle), the process writes a new one when it exits, with the functions it compiled
// by then; the build writes the first one (a `--help` run). A cache that cannot be written (a read-only
// install) is simply not written.
import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

/** The code cache file of a bundle. */
export function codeCacheFile(bundle) {
  return `${bundle}.v8-cache`;
}

/**
 * Runs the CommonJS bundle `file` in this process as the main program. `onCache` hears, before the bundle
 * runs, how its code cache is used: 'hit' (V8 accepted it), 'missing' or 'rejected' (a new one is written
 * at exit).
 */
export function runBundle(file, onCache = () => {}) {
  const cacheFile = codeCacheFile(file);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // CommonJS's wrapper plus the import function a bundle calls for a dynamic import() of a computed name
  // (scripts/build-bundles.mjs): a vm.Script cannot import() in Node 20 without an experimental loader.
  const bytes = readFileSync(file);
  // The build emits ASCII (esbuild's charset 'ascii'): decoded as latin1, a one-byte string without UTF-8
  // decoding (~25× less time for the client's 4.5 MB).
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __fedtuneImport) { ${source}\n})`, { filename: file, cachedData });
  const cache = cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'hit';
  if (cache !== 'hit') process.once('exit', () => writeCodeCache(script, cacheFile));
  onCache(cache);
  // A real CommonJS module (in require.cache, with node_modules lookup from the bundle's directory).
  const mod = new Module(file, null);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dirname(file));
  Module._cache[file] = mod;
  const require = createRequire(file);
  script.runInThisContext({ displayErrors: true }).call(mod.exports, mod.exports, require, mod, file, dirname(file), (specifier) => import(specifier));
  mod.loaded = true;
}

function writeCodeCache(script, cacheFile) {
  const tmp = `${cacheFile}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}
