#!/usr/bin/env node
// `npm run build` (and so `npm start` and `npm test`, whose pre-scripts run it): the compiled packages
// (scripts/build-js.mjs) and the browser site (`vite build client-web`), each skipped when its output is newer
// than everything it is built from — a second `npm start` starts the run at once instead of spending ~35 s
// rebuilding what did not change. `npm run build -- --force` rebuilds both; `npm run build:js` always
// rebuilds the packages, and `npm install` (the "prepare" script) always does.
//
// What a step is built from: its sources, the build's own scripts and configuration, and the installed
// dependencies (node_modules/.package-lock.json, which npm rewrites at every install: the bundles and the
// site embed dependency code). Its stamp is the time the last build of it started (a source saved during a
// build is newer than it).
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPILED_PACKAGES } from '../cli/bin/compiled-entry.mjs';

/** Directories never scanned for inputs: outputs and installed packages. */
const SKIPPED_DIRS = new Set(['dist', 'node_modules']);

/** The newest input under `path` (a file or a directory), as { mtimeMs, path }; undefined when nothing is there. */
export function newestInput(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return undefined;
  }
  if (!stat.isDirectory()) return { mtimeMs: stat.mtimeMs, path };
  let newest;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() && (SKIPPED_DIRS.has(entry.name) || entry.name.startsWith('dist.'))) continue;
    const found = newestInput(join(path, entry.name));
    if (found && (!newest || found.mtimeMs > newest.mtimeMs)) newest = found;
  }
  return newest;
}

/** The build steps of the repository at `root`, in order. */
export function buildSteps(root) {
  const dependencies = join(root, 'node_modules', '.package-lock.json');
  return [
    {
      name: 'packages',
      inputs: [
        ...COMPILED_PACKAGES.flatMap((name) => [join(root, name, 'src'), join(root, name, 'package.json')]),
        join(root, 'cli', 'bin'),
        join(root, 'scripts', 'build-js.mjs'),
        join(root, 'scripts', 'build-bundles.mjs'),
        join(root, 'scripts', 'tfjs-for-bundles.mjs'),
        join(root, 'tsconfig.build.json'),
        dependencies,
      ],
      outputs: [join(root, 'cli', 'dist', 'main.js')],
      stamp: join(root, 'cli', 'dist', 'build-info.json'),
      /** build-js.mjs writes the stamp itself (its builtAt is the time the build started). */
      run: () => spawnSync(process.execPath, [join(root, 'scripts', 'build-js.mjs')], { cwd: root, stdio: 'inherit' }).status === 0,
    },
    {
      name: 'browser site',
      inputs: [join(root, 'client-web'), join(root, 'shared', 'src'), join(root, 'shared', 'package.json'), dependencies],
      outputs: [join(root, 'client-web', 'dist', 'index.html')],
      stamp: join(root, 'client-web', 'dist', 'build-info.json'),
      run: () => {
        const started = Date.now();
        const ok = spawnSync('npx', ['vite', 'build', 'client-web'], { cwd: root, stdio: 'inherit' }).status === 0;
        if (ok) writeFileSync(join(root, 'client-web', 'dist', 'build-info.json'), `${JSON.stringify({ builtAt: started })}\n`);
        return ok;
      },
    },
  ];
}

/** Why `step` must be built (a short reason naming the file), or undefined when its output is current. */
export function staleReason(root, step) {
  const missing = step.outputs.find((file) => !existsSync(file));
  if (missing) return `${relative(root, missing)} is missing`;
  let builtAt;
  try {
    builtAt = JSON.parse(readFileSync(step.stamp, 'utf8')).builtAt;
  } catch {
    return `no ${relative(root, step.stamp)}`;
  }
  if (!Number.isFinite(builtAt)) return `${relative(root, step.stamp)} has no build time`;
  for (const input of step.inputs) {
    const newest = newestInput(input);
    if (newest && newest.mtimeMs > builtAt) return `${relative(root, newest.path)} changed since the last build`;
  }
  return undefined;
}

/** Whether process `pid` runs (a pid that cannot be read, 0, counts as running: its writer has not written it yet). */
function running(pid) {
  if (!(pid > 0)) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Runs `fn` holding the checkout's build lock (`.build-lock`, the holder's pid): two `npm start`s at once built the
 * same outputs side by side, each twice as slow, and could swap dist directories under each other. A second build
 * waits for the first (one line), then decides again what is stale — usually nothing; a lock whose process is gone
 * (a build killed) is taken over.
 */
export function withBuildLock(root, log, fn, { pollMs = 500 } = {}) {
  const lock = join(root, '.build-lock');
  for (let said = false; ; ) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let pid = 0;
    try {
      pid = Number(readFileSync(lock, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (!running(pid)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (!said) log(`build: another build (pid ${pid}) is running in this checkout; waiting for it to finish`);
    said = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pollMs);
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Builds what is stale (everything with `force`), step by step, holding the build lock; returns false when a step failed (and stops there). */
export function build(root, { force = false, log = console.log, steps = buildSteps(root) } = {}) {
  return withBuildLock(root, log, () => runStaleSteps(root, { force, log, steps }));
}

function runStaleSteps(root, { force, log, steps }) {
  for (const step of steps) {
    const reason = force ? '--force' : staleReason(root, step);
    if (!reason) {
      log(`build: ${step.name} current (nothing changed since the last build): skipped; npm run build -- --force rebuilds`);
      continue;
    }
    log(`build: ${step.name} (${reason})`);
    if (!step.run()) return false;
  }
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--force');
  if (unknown.length > 0) {
    console.error(`build: unknown argument ${unknown[0]} (the only option is --force)`);
    process.exit(2);
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  process.exit(build(root, { force: args.includes('--force') }) ? 0 : 1);
}
