import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The URL of tsx's ESM API (`tsx/esm/api`, import condition), found through tsx's package.json exports. */
function tsxEsmApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return pathToFileURL(join(dirname(manifest), exports['./esm/api'].import.default)).href;
}

/** A fit thread running fit-worker next to this file: compiled JavaScript when this file is, else TypeScript through tsx. */
export function spawnFitWorker(): Worker {
  const compiled = import.meta.url.endsWith('.js');
  const entry = new URL(`./fit-worker.${compiled ? 'js' : 'ts'}`, import.meta.url);
  if (compiled) return new Worker(entry);
  // Node 20 workers do not inherit the parent's tsx hooks: the worker loads its entry through tsx's API.
  const boot = `import(${JSON.stringify(tsxEsmApi())}).then((m) => m.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}))`;
  return new Worker(boot, { eval: true });
}
