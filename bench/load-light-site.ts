import { DEFAULT_SITE_POLICY, PROTOCOL_VERSION, checkRunTerms, socketIoConnector, type CoordinatorLink } from '@fedtune/shared';

/** What the light sites of one process saw, summed over them. */
export interface LightSiteCounters {
  /** Sites that accepted the run's terms (the coordinator counts them as joined once their answer checks out). */
  acceptedTerms: number;
  fits: number;
  rejected: number;
  complete: number;
  /** Sites that refused the run's terms (their verification failed), or were refused before joining. */
  refusedTerms: number;
  /** The last refusal's reason (one line), for the bench's error message. */
  lastRefusal?: string;
}

export function newLightSiteCounters(): LightSiteCounters {
  return { acceptedTerms: 0, fits: 0, rejected: 0, complete: 0, refusedTerms: 0 };
}

export interface LightSiteOptions {
  url: string;
  siteId: string;
  counters: LightSiteCounters;
  /** Simulated training before each fitResult, ms (0 = answer at once). */
  trainMs?: number;
  connectTimeoutMs?: number;
  /** false: the site never answers the run's terms (a site as bench:load's were before they did), so it never joins. Default true. */
  answerTerms?: boolean;
}

/**
 * A light site for `bench/load.ts`: joins as `fedtune client` does (hello, then the signed run terms checked
 * against the default policy — hash and signature — and answered with `acceptTerms` and their hash, as
 * site-client.ts does), echoes the global weights back after `trainMs` and answers evaluations with fixed
 * metrics. No tfjs, no model: what a load bench measures is the coordinator.
 */
export async function lightSite(options: LightSiteOptions): Promise<CoordinatorLink> {
  const { url, siteId, counters } = options;
  const trainMs = options.trainMs ?? 0;
  const link = await socketIoConnector({ url, connectTimeoutMs: options.connectTimeoutMs ?? 60_000 }).connect();
  let welcomedRun: string | undefined;
  link.onMessage((message) => {
    switch (message.event) {
      case 'welcome':
        welcomedRun = message.payload.runId;
        return;
      case 'terms': {
        if (options.answerTerms === false) return;
        const signed = message.payload;
        const runId = welcomedRun ?? signed.terms.runId;
        const verdict = checkRunTerms(signed, DEFAULT_SITE_POLICY);
        if (!verdict.ok) {
          counters.refusedTerms++;
          counters.lastRefusal = verdict.reason;
          link.send('refuseTerms', { runId, siteId, code: 'policy_refused', reason: verdict.reason });
          return;
        }
        counters.acceptedTerms++;
        link.send('acceptTerms', { runId, siteId, hash: verdict.hash });
        return;
      }
      case 'fit': {
        const fit = message.payload;
        const answer = () => {
          counters.fits++;
          link.send('fitResult', { runId: fit.runId, round: fit.round, siteId, weights: fit.weights!, numExamples: 100, metrics: { loss: 1, accuracy: 0.5 }, durationMs: trainMs });
        };
        if (trainMs > 0) setTimeout(answer, trainMs);
        else answer();
        return;
      }
      case 'evaluate': {
        const ev = message.payload;
        link.send('evaluateResult', { runId: ev.runId, round: ev.round, siteId, numExamples: 20, metrics: { loss: 1, accuracy: 0.5 } });
        return;
      }
      case 'rejected':
        counters.rejected++;
        if (message.payload.round === undefined) {
          counters.refusedTerms++;
          counters.lastRefusal = `${message.payload.code}: ${message.payload.reason}`.slice(0, 300);
        }
        return;
      case 'complete':
        counters.complete++;
        link.close();
        return;
      default:
        return;
    }
  });
  link.send('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'bench', runtime: 'node', numExamples: 100 } });
  return link;
}
