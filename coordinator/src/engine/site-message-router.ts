import type { RunContext } from './run-context.ts';
import { clipText, FedtuneError, MAX_REPORTED_EXAMPLES, oneLine, toFedtuneError, type ClientToServer, type SiteLink } from '@fedtune/shared';
import { DataSummaries } from './data-summaries.ts';
import type { SecAggClientEvent } from './secure-aggregation-round.ts';
import type { SiteMessage } from './site-connections.ts';
import type { SiteState } from './site-registry.ts';
import { validateFitResult } from './validate-fit-result.ts';
import { sha256OfBytes } from '../audit/audit-recorder.ts';

/** Routes a joined site's messages to the current round, secure round, evaluation or site report (after their checks). */
export class SiteMessageRouter {
  /** The data summaries sites agreed to share (data-summaries.ts), made on the first one (after any resume). */
  private dataSummaries?: DataSummaries;

  constructor(private readonly ctx: RunContext) {}

  /** A joined site's data summary: recorded once (report.json's dataSummaries), or refused with a typed code. */
  private onDataSummary(site: SiteState, summary: ClientToServer['dataSummary']): void {
    this.dataSummaries ??= new DataSummaries(this.ctx.config.runId, this.ctx.report.dataSummaries);
    try {
      this.dataSummaries.add(summary, { announced: site.numExamples, ...(this.ctx.config.classNames ? { classes: this.ctx.config.classNames.length } : {}) });
    } catch (err) {
      const e = toFedtuneError(err);
      return this.ctx.rejectMessage(site.link, e.code, clipText(e.message));
    }
    this.ctx.report.dataSummaries = this.dataSummaries.report();
    const { runId: _runId, siteId: _siteId, ...counts } = summary;
    this.ctx.emit({ type: 'data-summary', siteId: site.siteId, summary: counts });
  }

  onSiteMessage(site: SiteState, message: SiteMessage): void {
    const link = site.link;
    const claimed = message.payload.siteId;
    if (claimed !== site.siteId) {
      const reason = `connection joined as ${site.siteId} but the message claims ${claimed}`;
      this.ctx.collector?.reject({ siteId: site.siteId, code: 'unauthorized', reason });
      this.outOfWaitingPhases(site.siteId);
      // Its round, when its kind has one (a heartbeat has none): echoed so the site can tell which answer was refused.
      return this.ctx.rejectMessage(link, 'unauthorized', reason, (message.payload as { round?: number }).round);
    }
    if (message.event === 'acceptTerms') return this.ctx.membership.termsGate.accept(site, message.payload);
    if (message.event === 'refuseTerms') return this.ctx.membership.termsGate.refuse(site, message.payload);
    if (!site.termsAccepted && message.event !== 'heartbeat') return this.ctx.rejectMessage(link, 'unauthorized', `accept the run's terms before sending "${message.event}"`);
    switch (message.event) {
      case 'fitResult':
        return this.onFitResult(site, message.payload);
      case 'evaluateResult': {
        const r = message.payload;
        if (this.ctx.evaluation && r.round === this.ctx.evaluation.round && r.runId === this.ctx.config.runId && this.ctx.evaluation.expects(site.siteId)) {
          // A site's test split is part of the data it announced at hello (its training examples are most of it):
          // a count past that is held to it, as fit results are (validate-fit-result.ts).
          this.ctx.evaluation.add({ siteId: site.siteId, accuracy: r.metrics.accuracy, loss: r.metrics.loss, numExamples: Math.min(r.numExamples, site.numExamples) }, r.calibration);
          // Only the version it was just sent, and only when sites keep their model: any other claim is ignored.
          site.heldModelVersion = this.ctx.config.sitesKeepModel && r.heldModelVersion === this.ctx.evaluation.modelVersion ? r.heldModelVersion : undefined;
        }
        return;
      }
      case 'siteReportResult': {
        const r = message.payload;
        const pending = this.ctx.siteReportRound;
        // Taken only from a site it still waits for (add ignores the others).
        // Its test-split count held to the examples it announced at hello, as in the federated evaluation.
        if (!pending || r.round !== pending.round || r.runId !== this.ctx.config.runId) return;
        try {
          pending.add(site.siteId, { ...r, numExamples: Math.min(r.numExamples, site.numExamples) });
        } catch (err) {
          // An arm or field the run did not ask for: refused, and the site is missing from the report with the reason.
          const e = toFedtuneError(err);
          pending.fail(site.siteId, e.message);
          return this.ctx.rejectMessage(site.link, e.code, clipText(e.message), r.round);
        }
        return;
      }
      case 'secaggAdvertise':
      case 'secaggShareKeys':
      case 'secaggMasked':
      case 'secaggUnmaskResponse':
        return this.onSecAgg(site.siteId, link, message.event, message.payload);
      case 'heartbeat':
        site.status = message.payload.status;
        return;
      case 'dataSummary':
        return this.onDataSummary(site, message.payload);
      case 'siteFailure': {
        const f = message.payload;
        // Quoted in the round record, its events and the coordinator's console: one line.
        const why = oneLine(`${f.code}: ${f.reason}`);
        // A site that failed may have lost its model: the next instruction carries the weights again.
        site.heldModelVersion = undefined;
        if (this.ctx.collector && f.round === this.ctx.collector.round) {
          this.ctx.collector.fail(site.siteId, why);
          this.ctx.secureRound?.drop(site.siteId);
        }
        this.ctx.evaluation?.drop(site.siteId);
        if (this.ctx.siteReportRound && f.round === this.ctx.siteReportRound.round) this.ctx.siteReportRound.fail(site.siteId, why);
        return;
      }
    }
  }

  onSecAgg<K extends SecAggClientEvent>(siteId: string, link: SiteLink, event: K, payload: ClientToServer[K]): void {
    const secure = this.ctx.secureRound;
    // Recorded under the round the coordinator is in, never the one the peer names (as onFitResult does).
    const round = this.ctx.collector?.round ?? this.ctx.report.rounds.length;
    if (event === 'secaggMasked') {
      const masked = (payload as ClientToServer['secaggMasked']).masked;
      this.ctx.emit({ type: 'update-received', round, siteId, message: 'secaggMasked', sha256: sha256OfBytes(masked), bytes: masked.byteLength });
    }
    try {
      if (!secure) throw new FedtuneError('stale_round', 'no secure-aggregation round is in progress');
      secure.receive(siteId, event, payload);
    } catch (err) {
      // A protocol error is typed; anything else the secure round throws is the message's fault.
      const { code, message: reason } = toFedtuneError(err, 'malformed_payload');
      this.ctx.collector?.reject({ siteId, code, reason });
      this.ctx.emit({ type: 'result', round, siteId, accepted: false, code, reason });
      this.ctx.rejectMessage(link, code, reason, payload.round);
      // A site whose message the protocol refused cannot go on in this attempt.
      if (secure && code !== 'stale_round') secure.drop(siteId);
    }
  }

  onFitResult(site: SiteState, result: ClientToServer['fitResult']): void {
    const { siteId, link } = site;
    const c = this.ctx.collector;
    // Any result, late or refused, means the site is done with the fit a quorum wait cut it off from.
    this.ctx.unresponsive.heardFrom(siteId);
    // Hashed for the audit log in place (OpenSSL, ~0.25 ms per 400 KB: WebCrypto's off-thread digest cost more of
    // the event loop, copying the bytes into fresh memory first). Recorded under the round the
    // coordinator is in (with none open, the last one: flushed at the next round's end), never the round the peer
    // names: a peer naming a new round per message grew the recorder's pending entries without bound. The example
    // count is the peer's claim until validated: recorded only when it is one a site could have.
    const claimed = Number.isSafeInteger(result.numExamples) && result.numExamples >= 0 && result.numExamples <= MAX_REPORTED_EXAMPLES ? { numExamples: result.numExamples } : {};
    this.ctx.emit({ type: 'update-received', round: c?.round ?? this.ctx.report.rounds.length, siteId, message: 'fitResult', sha256: sha256OfBytes(result.weights), bytes: result.weights.byteLength, ...claimed });
    if (!c) {
      this.ctx.rejectMessage(link, 'stale_round', 'no round is in progress', result.round);
      return;
    }
    if (this.ctx.config.secureAggregation) {
      const reason = 'this run uses secure aggregation: plain updates are refused';
      c.reject({ siteId, code: 'malformed_payload', reason });
      this.ctx.emit({ type: 'result', round: c.round, siteId, accepted: false, code: 'malformed_payload', reason });
      this.ctx.rejectMessage(link, 'malformed_payload', reason, result.round);
      return;
    }
    const verdict = validateFitResult(siteId, result, {
      runId: this.ctx.config.runId,
      round: c.round,
      selected: c.selected,
      alreadyReceived: c.accepted,
      manifest: this.ctx.options.model.manifest,
      maxExamples: this.ctx.config.maxExamplesPerSite,
      announced: site.numExamples,
      maxUpdateBytes: this.ctx.config.maxUpdateBytes,
      global: this.ctx.globalWeights,
      maxUpdateNorm: this.ctx.config.maxUpdateNorm,
      // A streamed round's exact sum takes values up to ±maxAbs: the rest is refused here, in the norm's pass.
      maxAbs: this.ctx.aggregator.maxAbs,
      updateEncoding: this.ctx.config.train.updateEncoding,
    });
    if (verdict.ok && c.closed) {
      const reason = `round ${c.round} closed before this result arrived`;
      c.reject({ siteId, code: 'stale_round', reason });
      this.ctx.emit({ type: 'result', round: c.round, siteId, accepted: false, code: 'stale_round', reason });
      this.ctx.rejectMessage(link, 'stale_round', reason, result.round);
    } else if (verdict.ok) {
      const effectiveExamples = this.ctx.guard ? this.ctx.guard.effectiveExamples(verdict.numExamples) : verdict.numExamples;
      c.accept({ siteId, weights: verdict.weights, numExamples: verdict.numExamples, effectiveExamples, norm: verdict.norm, metrics: result.metrics, durationMs: result.durationMs, bytes: result.weights.byteLength });
      // Reported accepted only once it is certain to be in the aggregate; otherwise the round's close decides.
      if (!this.ctx.guard || this.ctx.guard.certain(verdict.norm)) this.ctx.emit({ type: 'result', round: c.round, siteId, accepted: true });
      else this.ctx.emit({ type: 'result-held', round: c.round, siteId, reason: 'held until the round closes and its adaptive norm bound is known' });
    } else {
      c.reject({ siteId, code: verdict.code, reason: verdict.reason });
      this.ctx.emit({ type: 'result', round: c.round, siteId, accepted: false, code: verdict.code, reason: verdict.reason });
      this.ctx.rejectMessage(link, verdict.code, verdict.reason, result.round);
    }
  }

  /** A joined site's message failed its schema: recorded against the site (reason clipped) and refused. */
  /**
   * A site whose message was refused (it failed its schema, or claimed another site's id) is out of the round's
   * phases waiting for it — as the training collector counts a refused update as answered: the secure round's
   * phase and the federated evaluation no longer wait for it until their deadlines. The site report after the
   * final round keeps waiting: a site may follow a refused report with a valid one
   * (tests/personalization/site-report-hostile.test.ts).
   */
  private outOfWaitingPhases(siteId: string): void {
    this.ctx.secureRound?.drop(siteId);
    this.ctx.evaluation?.drop(siteId);
  }

  onSiteInvalid(site: SiteState, error: FedtuneError): void {
    const reason = oneLine(error.message);
    this.ctx.collector?.reject({ siteId: site.siteId, code: error.code, reason });
    this.outOfWaitingPhases(site.siteId);
    this.ctx.emit({ type: 'result', round: this.ctx.collector?.round ?? 0, siteId: site.siteId, accepted: false, code: error.code, reason });
    this.ctx.rejectMessage(site.link, error.code, reason, this.ctx.collector?.round);
  }
}
