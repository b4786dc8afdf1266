#!/usr/bin/env node
// Bundles the start-up-critical subcommands (`fedtune client`, `fedtune coordinator`) into one CommonJS
// file each, cli/dist/bundles/<command>.cjs, from the compiled packages (scripts/build-js.mjs runs it after
// compiling). The bin loads a bundle through a V8 code cache (cli/bin/run-bundle.mjs): Node 20 has no
// module compile cache, and compiling tfjs and ~150 ES modules one by one was most of a site's start-up
// (docs/performance.md#bundled-subcommands-and-a-code-cache).
//
// A bundled module keeps the file identity it has in <package>/dist or node_modules: `import.meta.url`,
// `__dirname` and `__filename` are rewritten to that file's location, computed from the bundle's own
// directory, so worker threads (training, evaluation), the wasm binaries, package.json and the dashboard's
// assets are found where they were. Native and optional packages stay external (EXTERNAL_PACKAGES).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The subcommands that are bundled, each with the factory its command module exports. */
export const BUNDLED_COMMANDS = Object.freeze({ client: 'clientCommand', coordinator: 'coordinatorCommand', simulate: 'simulateCommand' });
/** Where bundles are written, relative to the repository root. */
export const BUNDLE_DIR = join('cli', 'dist', 'bundles');
/** Loaded by Node at run time rather than bundled: native addons, optional dependencies, worker-based loggers. */
export const EXTERNAL_PACKAGES = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'better-sqlite3', 'bufferutil', 'utf-8-validate', 'pino-pretty', 'thread-stream'];

/** What the bundles import as `@tensorflow/tfjs`: the parts of it that Node uses. */
export const TFJS_FOR_BUNDLES = fileURLToPath(new URL('./tfjs-for-bundles.mjs', import.meta.url));
/**
 * The tfjs packages a bundle takes as the package's ES modules (its "module" entry), not its CommonJS "main"
 * (dist/tf-*.node.js). The chained tensor methods and the gradients exist only as tfjs-core's ES modules
 * (tfjs-for-bundles.mjs imports `@tensorflow/tfjs-core/dist/…` as the package does), so the core that layers
 * and the backends use must be those same modules: one copy of tfjs-core. With the "main" of each, a bundle
 * held two copies; the first evaluated creates the one global engine, and with it the Tensor class of every
 * tensor — the ES copy, reached only through the registration files, so its `base_side_effects` never ran
 * and its tensors' `clone()` (every method through the op handler) read a null op handler: the
 * word-substitution attack's `out.clone()` failed in the bundled coordinator. Layers and the backends follow
 * core to their ES builds because their CommonJS builds are ES5 (`KernelBackend.call(this)` cannot extend
 * the ES class).
 */
export const TFJS_ES_MODULE_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'];

/** The file of `pkg`'s "module" entry, found from `root` (the repository). */
export function esModuleEntry(root, pkg) {
  const manifest = createRequire(join(root, 'package.json')).resolve(`${pkg}/package.json`);
  const { module } = JSON.parse(readFileSync(manifest, 'utf8'));
  if (typeof module !== 'string') throw new Error(`${pkg} has no "module" entry`);
  return join(dirname(manifest), module);
}

// Declared by the bundle's first lines (unbound names in every module, so esbuild never renames them).
const BUNDLE_DIR_VAR = '__fedtuneBundleDir';
const BANNER = `const ${BUNDLE_DIR_VAR} = __dirname, __fedtunePath = require('node:path'), __fedtuneUrl = require('node:url');`;
const IMPORT_META_URL = /(?<![\w$.'"`])import\.meta\.url(?![\w$'"`])/g;
// A dynamic `import()` of a computed name (an optional package such as tfjs-node): esbuild leaves it, and a
// vm.Script in Node 20 cannot run it without an experimental loader, so it calls the import function the
// bundle is run with (cli/bin/run-bundle.mjs). Imports of a literal name are esbuild's to bundle.
// (`import(${…}` can only be inside a template literal: code for a worker, left alone.)
const DYNAMIC_IMPORT = /(?<![\w$.'"`])import\((?!\s*(?:['"`)]|\$\{))/g;
export const BUNDLE_IMPORT_FN = '__fedtuneImport';
const USES_FILE_LOCATION = /\b__(dirname|filename)\b/;
const REQUIRE_CALL = /\b__fedtuneRequire\((?=['"])/g;

/**
 * The source of a module as bundled: its file location kept as it is on disk, relative to the bundle —
 * `import.meta.url` replaced, and `__dirname` / `__filename` declared at the top of the module (esbuild
 * scopes a module's declarations to it, so string literals that mention them are left alone) — and the
 * compiled code's `__fedtuneRequire('pkg')` made a plain `require` so the package is bundled too; a dynamic
 * `import()` of a computed name calls BUNDLE_IMPORT_FN.
 */
export function relocateModuleSource(source, file, bundleDir) {
  const at = (p) => `__fedtunePath.join(${BUNDLE_DIR_VAR}, ${JSON.stringify(relative(bundleDir, p).split('\\').join('/'))})`;
  const out = source.replace(IMPORT_META_URL, () => `__fedtuneUrl.pathToFileURL(${at(file)}).href`).replace(REQUIRE_CALL, 'require(').replace(DYNAMIC_IMPORT, `${BUNDLE_IMPORT_FN}(`);
  return USES_FILE_LOCATION.test(source) ? `var __dirname = ${at(dirname(file))}, __filename = ${at(file)};\n${out}` : out;
}

/**
 * The esbuild plugin that makes a bundle's `@tensorflow/tfjs` TFJS_FOR_BUNDLES (without what Node never
 * uses) and each of TFJS_ES_MODULE_PACKAGES its ES modules (one tfjs-core). `root`: the repository.
 *
 * The compiled code `require`s these packages (REQUIRED_CJS_PACKAGES in scripts/build-js.mjs), and esbuild
 * turns each `require` of an ES module into a fresh CommonJS view of it, copying every export (~1,500 for
 * tfjs, at ~50 call sites: ~0.1 s of CPU per start). A `require` goes instead through one CommonJS module per
 * package (REQUIRED_VIEW_NAMESPACE) that makes that view once; every later `require` returns the same object.
 */
export function tfjsForBundlesPlugin(root) {
  const entries = new Map([['@tensorflow/tfjs', TFJS_FOR_BUNDLES], ...TFJS_ES_MODULE_PACKAGES.map((pkg) => [pkg, esModuleEntry(root, pkg)])]);
  return {
    name: 'fedtune-tfjs',
    setup(b) {
      b.onResolve({ filter: /^@tensorflow\/tfjs(-[a-z-]+)?$/ }, (args) => {
        const path = entries.get(args.path);
        if (!path) return undefined;
        // The view's name ends in .cjs: esbuild takes a module's format from its extension.
        return args.kind === 'require-call' ? { path: `${path}.cjs`, namespace: REQUIRED_VIEW_NAMESPACE } : { path };
      });
      b.onLoad({ filter: /\.cjs$/, namespace: REQUIRED_VIEW_NAMESPACE }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path.slice(0, -'.cjs'.length))});`, loader: 'js', resolveDir: root }));
    },
  };
}

/** The esbuild namespace of the CommonJS modules through which the bundles `require` an ES tfjs package once. */
export const REQUIRED_VIEW_NAMESPACE = 'fedtune-required-view';

/** The packages whose compiled modules a bundle leaves out when it uses nothing of them (see unusedModulesDroppedPlugin). */
export const DROPPABLE_PACKAGE_DIRS = ['shared/dist', 'coordinator/dist', 'client-node/dist', 'cli/dist'];

/**
 * fedtune's compiled modules have no side effects at load, so a bundle leaves out each one it uses nothing
 * of (esbuild's `sideEffects: false`): the client bundles the whole `@fedtune/shared` index, but no longer
 * evaluates — builds the zod schemas of — the report, audit and robustness modules it never calls. The few
 * modules that do something when loaded are kept whenever they are imported (MODULES_WITH_SIDE_EFFECTS;
 * tests/startup/bundle-drops-unused-modules.test.ts checks that the list is complete).
 */
export function unusedModulesDroppedPlugin(root) {
  const dirs = DROPPABLE_PACKAGE_DIRS.map((d) => join(root, d) + sep);
  const kept = new Set(MODULES_WITH_SIDE_EFFECTS.map((f) => join(root, f)));
  return {
    name: 'fedtune-drop-unused',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\/|^@fedtune\// }, async (args) => {
        if (args.pluginData === 'fedtune-drop-unused') return undefined;
        // A relative import from outside fedtune's packages (tfjs's thousands of them) stays outside them:
        // left to esbuild, without a second resolution.
        if (args.path.startsWith('.') && !dirs.some((d) => args.importer.startsWith(d))) return undefined;
        const result = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'fedtune-drop-unused' });
        if (result.errors.length > 0 || !dirs.some((d) => result.path.startsWith(d)) || kept.has(result.path)) return result.errors.length > 0 ? undefined : result;
        return { ...result, sideEffects: false };
      });
    },
  };
}

/** Compiled modules that act when loaded (top-level statements other than declarations), kept whenever imported. */
export const MODULES_WITH_SIDE_EFFECTS = ['shared/dist/codec/weights-codec.js', 'shared/dist/wasm-kernels/stock-kernels.js', 'shared/dist/wasm-kernels/wasm-backend-factory.js', 'shared/dist/wasm-kernels/optimizer-kernels.js'];

/** The esbuild options every bundle shares: CommonJS for Node 20, ASCII, file locations kept relative to `bundleDir`. */
function bundleOptions(root, bundleDir, outfile) {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    external: EXTERNAL_PACKAGES,
    mainFields: ['main', 'module'],
    banner: { js: BANNER },
    legalComments: 'none',
    charset: 'ascii', // read back as latin1 (cli/bin/run-bundle.mjs, shared/src/node/spawn-module-worker.ts)
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'silent',
    metafile: true,
    plugins: [
      tfjsForBundlesPlugin(root),
      unusedModulesDroppedPlugin(root),
      {
        name: 'fedtune-relocate',
        setup(b) {
          b.onLoad({ filter: /\.(c|m)?js$/ }, (args) => {
            const source = readFileSync(args.path, 'utf8');
            return { contents: relocateModuleSource(source, args.path, bundleDir), loader: 'js' };
          });
        },
      },
    ],
  };
}

/** Bundles one subcommand; returns the bundle's path and the repository-relative files it holds. */
export async function bundleCommand(root, command) {
  const factory = BUNDLED_COMMANDS[command];
  if (!factory) throw new Error(`no bundle for "${command}"`);
  const bundleDir = join(root, BUNDLE_DIR);
  const outfile = join(bundleDir, `${command}.cjs`);
  const result = await build({
    stdin: {
      contents: `import { runProgram } from './run-program.js';\nimport { ${factory} } from './commands/${command}-command.js';\nvoid runProgram(async () => [${factory}()]);\n`,
      resolveDir: join(root, 'cli', 'dist'),
      sourcefile: `${command}-entry.js`,
      loader: 'js',
    },
    ...bundleOptions(root, bundleDir, outfile),
  });
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('<stdin>') && !p.endsWith(`${command}-entry.js`)).map((p) => relative(root, join(root, p)).split('\\').join('/'));
  writeFileSync(join(bundleDir, `${command}.inputs.json`), `${JSON.stringify(inputs, null, 1)}\n`);
  return { file: outfile, inputs };
}

/**
 * The worker threads that load tfjs, bundled like the subcommands: each into `<name>.bundle.cjs` next to its
 * compiled module, which spawnModuleWorker (shared/src/node/spawn-module-worker.ts) runs through a V8 code cache
 * instead of loading ~150 ES modules and compiling tfjs in every new thread (an evaluation worker started in
 * ~0.45 s of CPU, which a simulation's main thread shares its two cores with).
 */
export const BUNDLED_WORKERS = ['coordinator/dist/evaluation/evaluation-worker.js', 'client-node/dist/fit-pool/fit-worker.js', 'client-node/dist/parallel/training-worker.js'];

/** The bundle of a compiled worker module (`…/x.js` → `…/x.bundle.cjs`). */
export function workerBundleFile(workerJs) {
  return workerJs.replace(/\.js$/, '.bundle.cjs');
}

/** Bundles one BUNDLED_WORKERS module (a repository-relative path); returns the bundle's path. */
export async function bundleWorker(root, worker) {
  const entry = join(root, worker);
  const outfile = workerBundleFile(entry);
  await build({ entryPoints: [entry], ...bundleOptions(root, dirname(entry), outfile) });
  return { file: outfile };
}

/** Bundles every BUNDLED_COMMANDS subcommand (after the packages are compiled). */
export async function bundleAll(root) {
  const out = [];
  for (const command of Object.keys(BUNDLED_COMMANDS)) out.push(await bundleCommand(root, command));
  for (const worker of BUNDLED_WORKERS) out.push(await bundleWorker(root, worker));
  return out;
}
