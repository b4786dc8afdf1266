/**
 * The site-rendering worker (render-digits-sites.ts): claims sites from the last one down and renders each it
 * wins, posting its images back (transferred) as it goes, until it meets the main thread's claims.
 */
import { parentPort } from 'node:worker_threads';
import { renderDigitsSite } from '../data/digits-task.ts';
import { claimSiteRender, SITE_RENDER_WORKER } from './site-render-claims.ts';
import type { RenderSitesJob, RenderSitesReply } from './render-sites-protocol.ts';

const port = parentPort!;
const post = (reply: RenderSitesReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

port.once('message', (job: RenderSitesJob) => {
  try {
    const pool = { x: new Float32Array(job.poolX), y: job.poolY, featureShape: job.featureShape, numClasses: job.numClasses };
    for (let k = job.parts.length - 1; k >= 0; k--) {
      // The main thread claims from the first site up: once it holds site k, it holds every site before it.
      if (!claimSiteRender(job.claims, k, SITE_RENDER_WORKER)) break;
      const { x } = renderDigitsSite(pool, job.parts[k], k, job.seed);
      post({ kind: 'site', k, x }, [x.buffer as ArrayBuffer]);
    }
    post({ kind: 'done' });
  } catch (err) {
    post({ kind: 'failed', message: String((err as Error)?.message ?? err).slice(0, 500) });
  }
});
