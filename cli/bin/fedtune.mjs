#!/usr/bin/env node
// The `fedtune` program. It runs the compiled JavaScript (cli/dist, built by `npm run build:js`, which
// `npm start`, `npm test` and `npm install` run) when that build is current — `fedtune client` and
// `fedtune coordinator` as one bundled file through a V8 code cache (cli/bin/run-bundle.mjs) —; otherwise,
// e.g. right after editing a source file, the TypeScript sources through tsx (Node 20 cannot strip types
// itself). All behave the same; FEDTUNE_DEBUG=1 says which one runs and why.
import { fileURLToPath } from 'node:url';
import { bundleFor, compiledEntry } from './compiled-entry.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = compiledEntry(root);
const bundle = entry.url ? bundleFor(root, process.argv.slice(2)) : undefined;
if (bundle) {
  const { runBundle } = await import('./run-bundle.mjs');
  runBundle(bundle, (cache) => {
    if (process.env.FEDTUNE_DEBUG) console.error(`fedtune: running the bundled subcommand ${bundle} (code cache: ${cache})`);
  });
} else if (entry.url) {
  if (process.env.FEDTUNE_DEBUG) console.error('fedtune: running the compiled build (cli/dist)');
  await import(entry.url);
} else {
  if (process.env.FEDTUNE_DEBUG) console.error(`fedtune: running the TypeScript sources through tsx: ${entry.reason}`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
