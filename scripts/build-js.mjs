#!/usr/bin/env node
// Compiles the Node packages (shared, coordinator, client-node, cli) to ESM JavaScript in <package>/dist/,
// so the `fedtune` bin runs without a TypeScript transpiler (docs/performance.md#fast-start).
//
// Transpile only, one file at a time with tsconfig.build.json's options (`npm run typecheck` checks the
// types): relative `./x.ts` imports become `./x.js` (rewriteRelativeImportExtensions), and imports of a
// workspace package (`@fedtune/shared`, `@fedtune/shared/node`, …) become its compiled subpath
// (`@fedtune/shared/js`, `@fedtune/shared/js/node`, listed in that package's "exports"), so compiled code
// only ever loads compiled code, while vitest, vite, tsc and tsx keep resolving the TypeScript sources.
// A few CommonJS dependencies are loaded with `require` (REQUIRED_CJS_PACKAGES). Files other than .ts under
// src/ (the dashboard's assets) are copied. Each package is written to a fresh directory and renamed into
// place, so a running `fedtune` does not see a half-written package; the build ends by writing
// cli/dist/build-info.json, which the bin reads to tell a current build from a stale one
// (cli/bin/compiled-entry.mjs).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { Worker } from 'node:worker_threads';
import { BUNDLED_COMMANDS, BUNDLED_WORKERS, bundleAll, workerBundleFile } from './build-bundles.mjs';

/** The packages compiled, in dependency order. */
export const COMPILED_PACKAGES = ['shared', 'coordinator', 'client-node', 'cli'];
/** Where a package's compiled subpaths start (`@fedtune/<name>/js…` → `<package>/dist/…`). */
export const COMPILED_SUBPATH = 'js';

const WORKSPACE_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])@fedtune\/([a-z-]+)((?:\/[a-z-]+)?)\2/g;

/** `@fedtune/<pkg>[/sub]` specifiers in emitted JS → `@fedtune/<pkg>/js[/sub]`. */
export function rewriteWorkspaceImports(js) {
  return js.replace(WORKSPACE_IMPORT, (_m, head, quote, pkg, sub) => `${head}${quote}@fedtune/${pkg}/${COMPILED_SUBPATH}${sub}${quote}`);
}

/**
 * The CommonJS packages compiled code loads with `require`, and what it requires for each. Importing a
 * CommonJS bundle from ESM makes Node scan its source (and that of every module it re-exports) for named
 * exports: for tfjs that scan costs ~4× the CPU of `require` itself and ~20 MB; socket.io-client's ESM
 * build, which imports `ws` and `debug` (CommonJS), loads in 2.5× the CPU of its CommonJS build. Each is
 * imported in one place (no second copy through `import`). The namespace, default, named and side-effect
 * imports and the dynamic `import()` of these required dependencies become `require`s from a `createRequire(import.meta.url)` — the same module instance either
 * way. Optional dependencies (tfjs-node) keep `import()`: its "not installed" error is what backend
 * selection reports.
 */
export const REQUIRED_CJS_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'socket.io-client', 'yaml'];
const REQUIRE_FN = '__fedtuneRequire';
const REQUIRE_HEADER = `import { createRequire as __fedtuneCreateRequire } from 'node:module';\nconst ${REQUIRE_FN} = __fedtuneCreateRequire(import.meta.url);\n`;
const CJS = `(?<q>['"])(?<pkg>${REQUIRED_CJS_PACKAGES.map((p) => p.replace(/[/.-]/g, '\\$&')).join('|')})\\k<q>`;
const CJS_NAMESPACE_OR_DEFAULT = new RegExp(`^import\\s+(?:\\*\\s+as\\s+)?([\\w$]+)\\s+from\\s*${CJS};?$`, 'gm');
const CJS_NAMED = new RegExp(`^import\\s*\\{([^}]*)\\}\\s*from\\s*${CJS};?$`, 'gm');
const CJS_SIDE_EFFECT = new RegExp(`^import\\s*${CJS};?$`, 'gm');
const CJS_DYNAMIC = new RegExp(`\\bimport\\(\\s*${CJS}\\s*\\)`, 'g');

/** Imports of REQUIRED_CJS_PACKAGES in emitted JS → `require`s (see REQUIRED_CJS_PACKAGES). */
export function requireCommonJsDependencies(js) {
  let used = false;
  const target = (pkg) => ((used = true), `${REQUIRE_FN}('${pkg}')`);
  const out = js
    .replace(CJS_NAMESPACE_OR_DEFAULT, (_m, name, _q, pkg) => `const ${name} = ${target(pkg)};`)
    .replace(CJS_NAMED, (_m, names, _q, pkg) => `const { ${names.split(',').map((n) => n.trim()).filter(Boolean).map((n) => n.replace(/\s+as\s+/, ': ')).join(', ')} } = ${target(pkg)};`)
    .replace(CJS_SIDE_EFFECT, (_m, _q, pkg) => `${target(pkg)};`)
    .replace(CJS_DYNAMIC, (_m, _q, pkg) => `Promise.resolve().then(() => ${target(pkg)})`);
  return used ? REQUIRE_HEADER + out : out;
}

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

function compilerOptions(root) {
  const configPath = join(root, 'tsconfig.build.json');
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.convertCompilerOptionsFromJson(config.compilerOptions, root, configPath);
  if (parsed.errors.length) throw new Error(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
  return parsed.options;
}

/** Compiles one package's src/ into a fresh <package>/dist/; returns how many files it wrote. */
export function buildPackage(root, name, options) {
  const pkgDir = join(root, name);
  const srcDir = join(pkgDir, 'src');
  const exportsMap = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).exports ?? {};
  const tmpDir = join(pkgDir, `dist.tmp-${process.pid}`);
  rmSync(tmpDir, { recursive: true, force: true });
  let files = 0;
  for (const file of walk(srcDir)) {
    const rel = relative(srcDir, file);
    if (file.endsWith('.d.ts')) continue;
    if (!file.endsWith('.ts')) {
      mkdirSync(dirname(join(tmpDir, rel)), { recursive: true });
      copyFileSync(file, join(tmpDir, rel));
      files += 1;
      continue;
    }
    const source = readFileSync(file, 'utf8');
    const result = ts.transpileModule(source, { compilerOptions: options, fileName: file, reportDiagnostics: true });
    const errors = (result.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length) throw new Error(`${relative(root, file)}: ${errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
    const out = join(tmpDir, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, requireCommonJsDependencies(rewriteWorkspaceImports(result.outputText)));
    files += 1;
  }
  if (!Object.keys(exportsMap).some((k) => k === `./${COMPILED_SUBPATH}`)) throw new Error(`${name}/package.json has no "./${COMPILED_SUBPATH}" export for its compiled entry`);
  const distDir = join(pkgDir, 'dist');
  const oldDir = join(pkgDir, `dist.old-${process.pid}`);
  if (existsSync(distDir)) renameSync(distDir, oldDir);
  renameSync(tmpDir, distDir);
  rmSync(oldDir, { recursive: true, force: true });
  return files;
}

/**
 * Builds every compiled package under `root`, bundles the BUNDLED_COMMANDS subcommands
 * (scripts/build-bundles.mjs), writes cli/dist/build-info.json, and then writes each bundle's first V8 code
 * cache by running `fedtune <command> --help` (cli/bin/run-bundle.mjs).
 */
export async function buildAll(root, progress = () => {}) {
  const started = Date.now(); // sources changed after this instant are newer than the build
  const options = compilerOptions(root);
  let files = 0;
  for (const name of COMPILED_PACKAGES) {
    progress(`compiling ${name}`);
    files += buildPackage(root, name, options);
  }
  progress('bundling the subcommands and workers');
  const bundles = await bundleAll(root);
  // Written last: its time is the build's, and a build that failed part-way leaves no fresh build-info.
  writeFileSync(join(root, 'cli', 'dist', 'build-info.json'), `${JSON.stringify({ builtAt: started, packages: COMPILED_PACKAGES, typescript: ts.version })}\n`);
  progress('writing the bundles\' code caches');
  for (const command of Object.keys(BUNDLED_COMMANDS)) {
    const warm = spawnSync(process.execPath, [join(root, 'cli', 'bin', 'fedtune.mjs'), command, '--help'], { cwd: root, encoding: 'utf8', env: { ...process.env, FEDTUNE_BUNDLE: '', FEDTUNE_FROM_SOURCE: '' } });
    if (warm.status !== 0) throw new Error(`the ${command} bundle does not start: ${warm.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
  }
  for (const worker of BUNDLED_WORKERS) await warmWorkerBundle(root, workerBundleFile(join(root, worker)));
  return { files, bundles: bundles.length - BUNDLED_WORKERS.length, workerBundles: BUNDLED_WORKERS.length, ms: Date.now() - started };
}

/**
 * Writes a worker bundle's first code cache: starts it once as spawnModuleWorker would (with no real work: an
 * evaluation worker refuses the empty topology, the others wait for a job) and stops it once the cache is there.
 */
async function warmWorkerBundle(root, bundle) {
  const { codeCachedBundleBoot } = await import(pathToFileURL(join(root, 'shared', 'dist', 'node', 'spawn-module-worker.js')).href);
  const cache = `${bundle}.v8-cache`;
  rmSync(cache, { force: true });
  const worker = new Worker(codeCachedBundleBoot(bundle), { eval: true, workerData: { backend: 'cpu', topology: {}, holdout: { x: new Float32Array(0), y: new Int32Array(0), featureShape: [1], numClasses: 2 }, probes: [] }, stdout: true, stderr: true });
  let failure;
  worker.once('error', (err) => (failure = err));
  const deadline = Date.now() + 60_000;
  while (!existsSync(cache) && !failure && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await worker.terminate();
  if (!existsSync(cache)) throw new Error(`the worker bundle ${relative(root, bundle)} does not start: ${failure?.message ?? 'no code cache after 60 s'}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    // A build takes from seconds to minutes on a busy machine: each step says so as it starts (with the time so far).
    const t0 = Date.now();
    const { files, bundles, workerBundles, ms } = await buildAll(root, (step) => console.log(`build-js: ${step}… (${((Date.now() - t0) / 1000).toFixed(0)} s)`));
    console.log(`compiled ${files} files of ${COMPILED_PACKAGES.join(', ')} to <package>/dist, ${bundles} subcommand bundles to cli/dist/bundles and ${workerBundles} worker bundles in ${(ms / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error(`build-js: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
