/** What the main thread sends the site-rendering worker (render-sites-worker.ts), once. */
export interface RenderSitesJob {
  /** The pool's images, in shared memory (read only). */
  poolX: SharedArrayBuffer;
  poolY: Int32Array;
  featureShape: number[];
  numClasses: number;
  /** Each site's pool indices (digitsSiteParts). */
  parts: number[][];
  seed: number;
  /** One Int32 per site: who renders it (site-render-claims.ts). */
  claims: Int32Array;
}

/** The worker's messages: each site it rendered (its images, transferred), then done; or why it stopped. */
export type RenderSitesReply = { kind: 'site'; k: number; x: Float32Array } | { kind: 'done' } | { kind: 'failed'; message: string };
