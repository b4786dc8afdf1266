import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SharedBarrier, SharedBarrierAborted } from '../../client-node/src/parallel/shared-barrier.ts';

const BARRIER = pathToFileURL(join(__dirname, '../../client-node/src/parallel/shared-barrier.ts')).href;

/** tsx's ESM API (workers do not inherit the test's TypeScript loader). */
function tsxApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return pathToFileURL(join(dirname(manifest), exports['./esm/api'].import.default)).href;
}

/**
 * A real worker thread that imports SharedBarrier and, `steps` times: writes step+1 into its cell of
 * `counters`, waits at the barrier, records the smallest cell it sees (every party wrote this step first:
 * it must be step+1), waits again. Posts the smallest values it saw, or 'aborted'.
 */
function party(barrier: SharedBarrier, counters: SharedArrayBuffer, index: number, steps: number): Promise<number[] | 'aborted'> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(${JSON.stringify(tsxApi())}).then((api) => api.tsImport(${JSON.stringify(BARRIER)}, ${JSON.stringify(BARRIER)})).then(({ SharedBarrier, SharedBarrierAborted }) => {
      const barrier = new SharedBarrier(workerData.parties, workerData.buffer);
      const cells = new Int32Array(workerData.counters);
      const seen = [];
      try {
        for (let s = 0; s < workerData.steps; s++) {
          Atomics.store(cells, workerData.index, s + 1);
          barrier.wait();
          let min = Infinity;
          for (let i = 0; i < cells.length; i++) min = Math.min(min, Atomics.load(cells, i));
          seen.push(min);
          barrier.wait();
        }
        parentPort.postMessage(seen);
      } catch (err) {
        parentPort.postMessage(err instanceof SharedBarrierAborted ? 'aborted' : String(err));
      }
    });`;
  const worker = new Worker(code, { eval: true, workerData: { parties: barrier.parties, buffer: barrier.buffer, counters, index, steps } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: number[] | 'aborted') => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('SharedBarrier', () => {
  it('holds every thread until all have arrived, step after step (three real worker threads)', async () => {
    const barrier = new SharedBarrier(3);
    const counters = new SharedArrayBuffer(3 * 4);
    const results = await Promise.all([0, 1, 2].map((i) => party(barrier, counters, i, 200)));
    const expected = Array.from({ length: 200 }, (_, s) => s + 1);
    for (const r of results) expect(r).toEqual(expected);
  }, 60_000);

  it('abort() wakes a thread blocked at the barrier with SharedBarrierAborted', async () => {
    const barrier = new SharedBarrier(2);
    // One party of two: it blocks at its first wait until the main thread aborts.
    const waiting = party(barrier, new SharedArrayBuffer(2 * 4), 0, 1);
    setTimeout(() => barrier.abort(), 300);
    expect(await waiting).toBe('aborted');
  }, 60_000);

  it('an aborted barrier throws at every later wait; one party never blocks', () => {
    const single = new SharedBarrier(1);
    for (let i = 0; i < 3; i++) single.wait();
    const barrier = new SharedBarrier(2);
    barrier.abort();
    expect(barrier.aborted).toBe(true);
    expect(() => barrier.wait()).toThrow(SharedBarrierAborted);
    expect(() => new SharedBarrier(2, barrier.buffer).wait()).toThrow(SharedBarrierAborted);
    expect(() => new SharedBarrier(0)).toThrow(RangeError);
  });
});
