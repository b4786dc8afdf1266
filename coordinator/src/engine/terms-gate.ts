import { clipText, oneLine, type AcceptTerms, type RefuseTerms, type SignedRunTerms } from '@fedtune/shared';
import type { SiteState } from './site-registry.ts';

/** Most refusals kept in the run report (the total is counted beyond). */
export const MAX_REPORTED_REFUSALS = 100;

export interface TermsGateOptions {
  terms: SignedRunTerms;
  /** How long a welcomed site has to accept or refuse the terms before it is dropped. */
  answerTimeoutMs: number;
  /** The site accepted the terms: it is joined now. */
  onAccepted(site: SiteState): void;
  /** The site's policy refused the terms (reason clipped, one line); its connection is closed after. */
  onRefused(site: SiteState, reason: string): void;
  /** A wrong or missing answer: the connection is refused with this code and reason, and closed. */
  onBadAnswer(site: SiteState, code: 'unauthorized' | 'timeout', reason: string): void;
}

/**
 * The join protocol's coordinator side (docs/site-policy.md#join): after 'welcome' the site gets the signed
 * terms and counts as joined only once it answers 'acceptTerms' with their hash; 'refuseTerms' (with its
 * reason) or no answer within the deadline, and it never joins.
 */
export class TermsGate {
  private readonly timers = new Map<SiteState, ReturnType<typeof setTimeout>>();

  constructor(private readonly options: TermsGateOptions) {}

  get signed(): SignedRunTerms {
    return this.options.terms;
  }

  /** A site was welcomed: send it the terms and start its deadline. */
  offer(site: SiteState): void {
    site.link.send('terms', this.options.terms);
    const timer = setTimeout(() => {
      this.timers.delete(site);
      if (!site.termsAccepted && !site.link.closed) this.options.onBadAnswer(site, 'timeout', `no answer to the run's terms within ${this.options.answerTimeoutMs} ms`);
    }, this.options.answerTimeoutMs);
    timer.unref?.();
    this.timers.set(site, timer);
  }

  accept(site: SiteState, answer: AcceptTerms): void {
    if (site.termsAccepted) return; // a repeated acceptance changes nothing
    this.settle(site);
    const { terms, hash } = this.options.terms;
    if (answer.runId !== terms.runId || answer.hash !== hash) {
      this.options.onBadAnswer(site, 'unauthorized', `accepted terms ${answer.hash.slice(0, 16)}… of run ${clipText(answer.runId, 64)}; this run's terms are ${hash.slice(0, 16)}… (GET /api/v1/terms)`);
      return;
    }
    site.termsAccepted = true;
    this.options.onAccepted(site);
  }

  refuse(site: SiteState, answer: RefuseTerms): void {
    if (site.termsAccepted) return; // refusals of instructions arrive as siteFailure
    this.settle(site);
    this.options.onRefused(site, oneLine(`${answer.code}: ${answer.reason}`));
  }

  /** The site left (or was answered): its deadline goes. */
  settle(site: SiteState): void {
    const timer = this.timers.get(site);
    if (timer) clearTimeout(timer);
    this.timers.delete(site);
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
