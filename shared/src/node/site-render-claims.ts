/**
 * Who renders which site when the main thread and a worker share the built-in task's site rendering: one
 * Int32 per site over a SharedArrayBuffer; the main thread claims from the first site up, the worker from the
 * last one down, and each site goes to whoever claims it first — so the two finish together whatever the
 * sites' sizes, and a worker that starts late (or never) only takes fewer sites.
 */
export const SITE_RENDER_UNCLAIMED = 0;
export const SITE_RENDER_MAIN = 1;
export const SITE_RENDER_WORKER = 2;

export function newSiteRenderClaims(sites: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Math.max(1, sites) * Int32Array.BYTES_PER_ELEMENT));
}

/** Claims site k for `who`; true when it was unclaimed. */
export function claimSiteRender(claims: Int32Array, k: number, who: typeof SITE_RENDER_MAIN | typeof SITE_RENDER_WORKER): boolean {
  return Atomics.compareExchange(claims, k, SITE_RENDER_UNCLAIMED, who) === SITE_RENDER_UNCLAIMED;
}
