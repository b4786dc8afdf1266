import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '@fedtune/shared/node';

/** A fit thread running fit-worker next to this file: compiled JavaScript when this file is, else TypeScript through tsx. */
export function spawnFitWorker(): Worker {
  return spawnModuleWorker(import.meta.url, 'fit-worker');
}
