// Which entry point the `fedtune` bin runs: the compiled JavaScript (cli/dist/main.js, from
// `npm run build:js`) when it is current, otherwise the TypeScript sources through tsx.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The workspace packages compiled into <package>/dist (scripts/build-js.mjs). */
export const COMPILED_PACKAGES = ['shared', 'coordinator', 'client-node', 'cli'];

/** The newest modification time (ms) of the files under `dir` (0 when it does not exist). */
function newestMtime(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

/**
 * The compiled entry (a file: URL) of the repository at `root`, or why the sources run instead:
 * `FEDTUNE_FROM_SOURCE=1`, no build, or a source file (or a package.json) changed since the build.
 */
export function compiledEntry(root, env = process.env) {
  if (env.FEDTUNE_FROM_SOURCE === '1') return { reason: 'FEDTUNE_FROM_SOURCE=1' };
  const main = join(root, 'cli', 'dist', 'main.js');
  const infoPath = join(root, 'cli', 'dist', 'build-info.json');
  if (!existsSync(main) || !existsSync(infoPath)) return { reason: 'not built (npm run build:js)' };
  let builtAt;
  try {
    builtAt = JSON.parse(readFileSync(infoPath, 'utf8')).builtAt;
  } catch {
    return { reason: 'unreadable cli/dist/build-info.json' };
  }
  if (!Number.isFinite(builtAt)) return { reason: 'unreadable cli/dist/build-info.json' };
  for (const name of COMPILED_PACKAGES) {
    const changed = Math.max(newestMtime(join(root, name, 'src')), statSync(join(root, name, 'package.json'), { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if (changed > builtAt) return { reason: `${name}/ changed since the build (npm run build:js)` };
  }
  return { url: pathToFileURL(main).href };
}

/** The subcommands built as bundles (scripts/build-bundles.mjs BUNDLED_COMMANDS). */
export const BUNDLED_COMMANDS = ['client', 'coordinator', 'simulate'];

/**
 * The bundle (a path) that runs the command line `args` (the arguments after `fedtune`) in a current build at
 * `root`, or undefined: only a command line that starts with a bundled subcommand's name, not
 * `FEDTUNE_BUNDLE=0`, and only when the build made the bundle. Call it after compiledEntry found the build
 * current.
 */
export function bundleFor(root, args, env = process.env) {
  if (env.FEDTUNE_BUNDLE === '0') return undefined;
  const name = args[0];
  if (!BUNDLED_COMMANDS.includes(name)) return undefined;
  const file = join(root, 'cli', 'dist', 'bundles', `${name}.cjs`);
  return existsSync(file) ? file : undefined;
}
