import type { RoundEngineOptions } from './engine-types.ts';
import type { SiteMessageRouter } from './site-message-router.ts';
import type { RunContext } from './run-context.ts';
import { clipText, FedtuneError, deriveSeed, SeededRandom, type Hello } from '@fedtune/shared';
import { ConnectionLimits } from './connection-limits.ts';
import { SiteConnections } from './site-connections.ts';
import type { SiteState } from './site-registry.ts';
import { CoordinatorIdentity } from '../access/coordinator-identity.ts';
import { runTermsOf, signRunTerms } from '../run/run-terms-of.ts';
import { MAX_REPORTED_REFUSALS, TermsGate } from './terms-gate.ts';

/**
 * Membership: site connections, the run's terms and who has joined, waiting for sites, and the seeded
 * sample of each round. Messages of joined sites go to the router (site-message-router.ts).
 */
export class SiteMembership {
  readonly connections: SiteConnections;
  /** The run's signed terms and the join protocol around them (terms-gate.ts). */
  readonly termsGate: TermsGate;
  private joinWaiters: Array<() => void> = [];

  constructor(
    private readonly ctx: RunContext,
    router: SiteMessageRouter,
  ) {
    const { options } = ctx;
    this.termsGate = this.createTermsGate(options.identity ?? CoordinatorIdentity.generate());
    this.connections = new SiteConnections({
      pendingUntilTermsAccepted: true,
      registry: ctx.sites,
      runId: ctx.config.runId,
      limits: options.connectionLimits,
      authorize: options.authorize && this.reportingRefusals(options.authorize),
      place: options.placeSite,
      onJoined: (site, hello, replaced) => this.onJoined(site, hello, replaced),
      onLeft: (site, reason) => this.onSiteLeft(site, reason),
      onMessage: (site, message) => router.onSiteMessage(site, message),
      onInvalid: (site, error) => router.onSiteInvalid(site, error),
      onRefusedConnection: (info) => ctx.emit({ type: 'connection-refused', ...info }),
    });
  }

  /** Wakes whoever waits for sites (the engine is stopping). */
  wake(): void {
    for (const wake of this.joinWaiters.splice(0)) wake();
  }

  /** `authorize`, telling the audit log about each hello it refuses (clipped; rate-limited refusals are not told). */
  reportingRefusals(authorize: NonNullable<RoundEngineOptions['authorize']>): NonNullable<RoundEngineOptions['authorize']> {
    return (hello, link) => {
      const verdict = authorize(hello, link);
      // The refusal, if it is one (a bare `false` says neither why nor which code: unauthorized, in our words).
      const refusal = verdict === false ? { code: 'unauthorized' as const, reason: `site ${hello.siteId} is not allowed to join` } : verdict === true || verdict.ok ? undefined : verdict;
      if (refusal) {
        const { code = 'unauthorized', reason } = refusal;
        if (code !== 'rate_limited') this.ctx.emit({ type: 'hello-refused', siteId: clipText(hello.siteId, 128), code, reason: clipText(reason) });
      }
      return verdict;
    };
  }

  /** The run's terms, signed, and what happens to a site's answer (docs/site-policy.md#join). */
  createTermsGate(identity: CoordinatorIdentity): TermsGate {
    const train = this.ctx.strategy.configureTrain?.(this.ctx.config.train, { round: this.ctx.config.rounds, state: this.ctx.strategyState, options: this.ctx.config.strategyOptions }) ?? this.ctx.config.train;
    const termsTrain = this.ctx.config.personalization.mode === 'fedbn' ? { ...train, localBatchNorm: true } : train;
    const signed = signRunTerms(runTermsOf(this.ctx.config, this.ctx.options.model, identity.publicKey, termsTrain), identity);
    this.ctx.report.terms = { hash: signed.hash, coordinator: signed.terms.coordinator };
    return new TermsGate({
      terms: signed,
      answerTimeoutMs: ConnectionLimits.parse(this.ctx.options.connectionLimits ?? {}).helloTimeoutMs,
      onAccepted: (site) => {
        this.ctx.emit({ type: 'site-joined', siteId: site.siteId, backend: site.backend, runtime: site.runtime, numExamples: site.numExamples });
        for (const wake of this.joinWaiters.splice(0)) wake();
      },
      onRefused: (site, reason) => {
        const refusals = (this.ctx.report.termsRefusals ??= { total: 0, sites: [] });
        refusals.total++;
        if (refusals.sites.length < MAX_REPORTED_REFUSALS) refusals.sites.push({ siteId: site.siteId, reason, at: new Date().toISOString() });
        this.ctx.emit({ type: 'site-refused', siteId: site.siteId, reason });
        site.link.close();
      },
      onBadAnswer: (site, code, reason) => {
        this.ctx.rejectMessage(site.link, code, reason);
        site.link.close();
      },
    });
  }

  /** A site joined (SiteConnections has registered and welcomed it). */
  onJoined(site: SiteState, _hello: Hello, replaced: SiteState | undefined): void {
    // Stryker disable next-line ConditionalExpression: equivalent: for a site that replaced nothing, each call below is a no-op (it cannot be selected, asked or awaited: its previous connection's leave already settled it).
    if (replaced) {
      // A site that reconnects (its old connection closed or silent): the new connection replaces it.
      this.ctx.collector?.fail(site.siteId, 'reconnected during the round');
      this.ctx.secureRound?.drop(site.siteId);
      this.ctx.evaluation?.drop(site.siteId);
      this.ctx.siteReportRound?.fail(site.siteId, 'reconnected during the site report');
    }
    if (this.ctx.report.status === 'complete' || this.ctx.report.status === 'aborted') {
      // Joined (or rejoined) after the end: tell it the run is over.
      site.link.send('complete', this.ctx.completeMessage());
      return;
    }
    // It joins once it accepts the run's terms (termsGate: 'site-joined' then).
    this.termsGate.offer(site);
  }

  onSiteLeft(site: SiteState, reason: string): void {
    this.termsGate.settle(site);
    if (!site.termsAccepted) return; // it never joined
    this.ctx.collector?.fail(site.siteId, `disconnected: ${reason}`);
    this.ctx.secureRound?.drop(site.siteId);
    this.ctx.evaluation?.drop(site.siteId);
    this.ctx.siteReportRound?.fail(site.siteId, `disconnected: ${reason}`);
    this.ctx.emit({ type: 'site-left', siteId: site.siteId, reason });
  }

  /**
   * Waits until `minSites` sites are joined. With `graceMs` (between rounds), waits at most that long (0: not
   * at all) and then goes on with whoever is there, as long as one site is; otherwise waits up to joinTimeoutMs
   * (0 = forever).
   */
  async waitForSites(graceMs?: number): Promise<void> {
    const started = Date.now();
    while (this.ctx.sites.size < this.ctx.config.minSites) {
      // Stryker disable next-line StringLiteral: equivalent: a stopped run records its reason, never a code (round-engine.ts).
      if (this.ctx.stopped) throw new FedtuneError('internal', 'stopped while waiting for sites');
      this.ctx.emit({ type: 'waiting', joined: this.ctx.sites.size, needed: this.ctx.config.minSites });
      const grace = graceMs !== undefined && this.ctx.sites.size > 0;
      // A grace of 0 is no wait (only joinTimeoutMs 0 means forever).
      const limit = grace ? graceMs : this.ctx.config.joinTimeoutMs;
      const remaining = grace || limit > 0 ? limit - (Date.now() - started) : Infinity;
      // Stryker disable next-line EqualityOperator: equivalent: at exactly 0 a 0 ms timer runs the loop again, and then less than 0 is left.
      if (remaining <= 0) {
        if (grace) return;
        throw new FedtuneError('timeout', `only ${this.ctx.sites.size} of ${this.ctx.config.minSites} sites joined within ${this.ctx.config.joinTimeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(remaining) ? setTimeout(resolve, remaining) : undefined;
        this.joinWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Seeded sample of ceil(fraction × eligible) sites, in canonical order. Not drawn: `leftOut` (this round's
   * excluded sites), the sites cooling down after giving no answer (unresponsive-sites.ts), listed in `cooling`,
   * and those still busy with a fit the quorum wait cut them off from, listed in `busy`.
   */
  sample(round: number, attempt: number, leftOut: ReadonlySet<string> = new Set()): { selected: string[]; cooling: string[]; busy: string[] } {
    const joined = this.ctx.sites.ids().filter((id) => !leftOut.has(id));
    const { ids, cooling, busy } = this.ctx.unresponsive.eligible(joined, round);
    const k = Math.max(1, Math.ceil(this.ctx.config.fraction * ids.length));
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: a shortcut; every id drawn, sorted, is `ids` (the registry keeps them sorted).
    if (k >= ids.length) return { selected: ids, cooling, busy };
    // Stryker disable next-line StringLiteral: equivalent: the label only keeps this stream apart from the run's other seeded draws.
    const rng = new SeededRandom(deriveSeed(this.ctx.config.seed, 'sample', round, attempt));
    return { selected: rng.shuffle([...ids]).slice(0, k).sort(), cooling, busy };
  }
}
