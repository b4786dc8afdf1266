import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets a coordinator's heap grow past what the last full collection kept: 300 % (a limit of 4× the
 * live heap), instead of V8's adaptive factor. A coordinator churns far more memory outside its heap (407 KB
 * update and socket buffers per site per round) than in it, and V8 counts that churn towards the old
 * generation's limit: with its adaptive factor (≈ 1.6× a ~35 MB live heap here) it ran a full collection every
 * 150–350 ms that freed 1–5 MB, 50–100 ms of marking each — about half of a node's main thread at 500 sites
 * (and, with V8's concurrent marking, a third of a cluster leader's CPU on the helper threads).
 * With 4×, those collections are rarer: −30 % CPU per round for one coordinator at 750 sites and for a cluster
 * node at 500 (docs/performance.md, "Round 5"). It costs at most a few times the live heap (tens of MB).
 *
 * Set at run time by `fedtune coordinator` (this flag is read at each collection, so setting it after start is
 * safe — unlike --single-threaded-gc, which aborts the process at its next collection when set late), not by
 * `fedtune simulate` or a site, whose heaps hold the sites' models and data.
 */
export const SERVER_HEAP_GROWING_PERCENT = 300;

/** Applies the server's heap growth to this process; returns the V8 flag it set. */
export function useServerHeapGrowth(percent = SERVER_HEAP_GROWING_PERCENT): string {
  if (!Number.isInteger(percent) || percent < 1 || percent > 1000) throw new RangeError(`heap growing percent must be an integer in 1..1000, got ${percent}`);
  const flag = `--heap-growing-percent=${percent}`;
  setFlagsFromString(flag);
  return flag;
}
