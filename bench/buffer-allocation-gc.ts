/**
 * `npx tsx bench/buffer-allocation-gc.ts [--heap-mb 60] [--allocations 3000] [--bytes 407088]`
 *
 * What one received update's allocation costs in garbage collection (docs/performance.md, "Round 3"): the
 * coordinator allocates a 407 KB Buffer (outside the JS heap) twice per update — the socket's reads and ws's
 * reassembly of the message — and V8 collects the young generation when the young ArrayBuffers' bytes pass a
 * threshold, however little JS the program allocates. This allocates `--allocations` Buffers of `--bytes`
 * (20 kept alive at a time, as updates in flight are), with `--heap-mb` of long-lived JS objects standing in
 * for the coordinator's heap (one size per process: compare `--heap-mb 60` with `--heap-mb 0`), and prints
 * the process CPU per allocation and the scavenges and mark-compacts it caused (PerformanceObserver 'gc').
 */
import { parseArgs } from 'node:util';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

const { values: args } = parseArgs({
  options: {
    'heap-mb': { type: 'string', default: '60' },
    allocations: { type: 'string', default: '3000' },
    bytes: { type: 'string', default: '407088' },
  },
});
const ALLOCATIONS = Number(args.allocations);
const BYTES = Number(args.bytes);

async function measure(heapMb: number): Promise<{ heapMb: number; cpuMsPerAllocation: number; scavenges: number; markCompacts: number }> {
  // ~100 bytes per object: a string and a small object.
  const ballast = Array.from({ length: Math.round((heapMb * 1e6) / 100) }, (_, i) => ({ i, s: `x${i}` }));
  global.gc?.();
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const kept: Buffer[] = [];
  const t = process.cpuUsage();
  for (let k = 0; k < ALLOCATIONS; k++) {
    const b = Buffer.allocUnsafe(BYTES);
    b[0] = k;
    kept.push(b);
    if (kept.length > 20) kept.shift();
    if (k % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  const u = process.cpuUsage(t);
  await new Promise((r) => setTimeout(r, 100));
  observer.disconnect();
  const kind = (e: PerformanceEntry) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
  if (ballast.length < 0) console.log(ballast[0]);
  return {
    heapMb,
    cpuMsPerAllocation: Math.round(((u.user + u.system) / 1000 / ALLOCATIONS) * 1000) / 1000,
    scavenges: entries.filter((e) => kind(e) === constants.NODE_PERFORMANCE_GC_MINOR).length,
    markCompacts: entries.filter((e) => kind(e) === constants.NODE_PERFORMANCE_GC_MAJOR).length,
  };
}

const r = await measure(Number(args['heap-mb']));
console.log(`live heap ~${r.heapMb} MB: ${r.cpuMsPerAllocation} ms CPU per ${BYTES}-byte Buffer; ${r.scavenges} scavenges, ${r.markCompacts} mark-compacts for ${ALLOCATIONS} allocations`);
