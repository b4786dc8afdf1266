#!/usr/bin/env node
// The `fedtune` program. It runs the compiled JavaScript (cli/dist, built by `npm run build:js`, which
// `npm start`, `npm test` and `npm install` run) when that build is current; otherwise, e.g. right after
// editing a source file, the TypeScript sources through tsx (Node 20 cannot strip types itself). Both
// behave the same; FEDTUNE_DEBUG=1 says which one runs and why.
import { fileURLToPath } from 'node:url';
import { compiledEntry } from './compiled-entry.mjs';

const entry = compiledEntry(fileURLToPath(new URL('../..', import.meta.url)));
if (entry.url) {
  if (process.env.FEDTUNE_DEBUG) console.error('fedtune: running the compiled build (cli/dist)');
  await import(entry.url);
} else {
  if (process.env.FEDTUNE_DEBUG) console.error(`fedtune: running the TypeScript sources through tsx: ${entry.reason}`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
