import type { TextRobustnessEvaluator } from './text-robustness-evaluator.ts';
import {
  clipText,
  FedtuneError,
  toFedtuneError,
  type SiteDataSummary,
  deriveSeed,
  encodeWeights,
  getStrategy,
  REPORT_SCHEMA_VERSION,
  SeededRandom,
  StreamingFedAvg,
  RdpAccountant,
  shouldEvaluateRobustness,
  strategyNeedsIndividualUpdates,
  siteAccuracySummary,
  totalParameters,
  type ClientToServer,
  type FitResultMetrics,
  type Hello,
  type RobustnessReport,
  type RoundRecord,
  type RunComplete,
  type RunReport,
  type SecureAggInstruction,
  type ServerTransport,
  type SiteLink,
  type TrainSettings,
  type WeightArrays,
  warmedUpTrain,
} from '@fedtune/shared';
import { aggregateDp, aggregateDpSecureSum, dpNoiseRandom } from './dp-aggregation.ts';
import { aggregateDistributedDpSecureSum, distributedRoundNoiseMultiplier, resolveDpNoise, type DpNoise } from './distributed-dp-aggregation.ts';
import { EvaluationCollector, evaluationWeights } from './evaluation-collector.ts';
import { fitFederatedTemperature, type CalibrationAnswer } from './federated-calibration.ts';
import type { GlobalMetrics, GlobalModel } from './global-model.ts';
import { RoundCollector } from './round-collector.ts';
import { secAggInstruction, secAggThreshold, SecureAggregationRound, type SecAggClientEvent, type SecureRoundResult } from './secure-aggregation-round.ts';
import type { RunConfig } from './run-config.ts';
import { ConnectionLimits, type ConnectionLimitsInput } from './connection-limits.ts';
import { SiteConnections, type HelloVerdict, type RefusedConnection, type SiteMessage } from './site-connections.ts';
import { SiteRegistry, type SiteState } from './site-registry.ts';
import { validateFitResult } from './validate-fit-result.ts';
import { UpdateGuard } from './update-guard.ts';
import { checkCandidateMetrics, checkCandidateWeights } from './model-adoption.ts';
import { SiteReportRound, siteReportInstruction, wantsSiteReport } from './site-report-round.ts';
import { pacedFanOut } from '../transport/paced-fan-out.ts';
import { CoordinatorIdentity } from '../access/coordinator-identity.ts';
import { runTermsOf, signRunTerms } from '../run/run-terms-of.ts';
import { MAX_REPORTED_REFUSALS, TermsGate } from './terms-gate.ts';
import { DataSummaries } from './data-summaries.ts';
import { sha256OfBytes } from '../audit/audit-recorder.ts';

/** The site's record-level DP-SGD ε and its privacy-ledger totals from its fit metrics, as the accepted entry's optional fields. */
function siteEpsilon(metrics: FitResultMetrics): { epsilon?: number; ledger?: { runEpsilon: number | null; totalEpsilon: number | null } } {
  return { ...(metrics.privacy ? { epsilon: metrics.privacy.epsilon } : {}), ...(metrics.ledger ? { ledger: { runEpsilon: metrics.ledger.runEpsilon, totalEpsilon: metrics.ledger.totalEpsilon } } : {}) };
}

function addInto(global: Float32Array, delta: Float32Array): Float32Array {
  const out = new Float32Array(global.length);
  for (let i = 0; i < out.length; i++) out[i] = global[i] + delta[i];
  return out;
}

/**
 * Runs one write of the run's state (checkpoint, report); a failure (read-only or full disk, a path taken by
 * something else) becomes FedtuneError('persistence') naming what could not be saved, which ends the run cleanly.
 */
async function saving<T>(what: string, write: () => Promise<T> | T): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof FedtuneError && err.code === 'persistence') throw err;
    const e = err as NodeJS.ErrnoException;
    const message = String(e?.message ?? err).slice(0, 500);
    throw new FedtuneError('persistence', `cannot save ${what}: ${message}${e?.code === 'EACCES' || e?.code === 'EROFS' ? ' (is the run directory writable?)' : ''}`, { cause: err });
  }
}

/** Why sites gave no usable result, for a quorum failure's reason: a few sites' reasons, each clipped. */
function whyMissing(failed: ReadonlyArray<{ siteId: string; reason: string }>, rejected: ReadonlyArray<{ siteId: string; code: string; reason: string }>): string {
  const all = [...failed.map((f) => `${f.siteId}: ${f.reason}`), ...rejected.map((r) => `${r.siteId}: ${r.code}: ${r.reason}`)];
  if (all.length === 0) return '';
  const shown = all.slice(0, 3).map((s) => (s.length > 300 ? `${s.slice(0, 300)}…` : s));
  return ` (${shown.join('; ')}${all.length > 3 ? `; and ${all.length - 3} more` : ''})`;
}

export type EngineEvent =
  | { type: 'site-joined'; siteId: string; backend: string; runtime: string; numExamples: number }
  | { type: 'site-left'; siteId: string; reason: string }
  /** A site's policy refused the run's terms (reason clipped, one line): it never joined. */
  | { type: 'site-refused'; siteId: string; reason: string }
  | { type: 'waiting'; joined: number; needed: number }
  | { type: 'pretrained'; accuracy: number; loss: number }
  | { type: 'round-start'; round: number; attempt: number; selected: string[] }
  /**
   * A site's update was accepted into the round's aggregate (`accepted: true`, emitted only once that is
   * certain) or refused. Exactly one per update.
   */
  | { type: 'result'; round: number; siteId: string; accepted: boolean; code?: string; reason?: string }
  /** An update passed its checks but waits for the round's adaptive norm bound: a 'result' follows when the round closes. */
  | { type: 'result-held'; round: number; siteId: string; reason: string }
  | { type: 'round-end'; record: RoundRecord }
  | { type: 'round-retry'; round: number; attempt: number; reason: string }
  | { type: 'robustness-start'; round: number }
  /** A non-final round's robustness evaluation finished (it overlapped the next round); the final round's is in its 'round-end' record. */
  | { type: 'robustness-end'; round: number; robustness: RobustnessReport }
  /** The per-site report after the final round (personalisation, per-site robustness) was asked of these sites. */
  | { type: 'site-report-start'; round: number; sites: string[] }
  | { type: 'complete'; report: RunReport }
  /** A site's update arrived (before any check): the SHA-256 of its bytes exactly as received, for the audit log. */
  | { type: 'update-received'; round: number; siteId: string; message: 'fitResult' | 'secaggMasked'; sha256: string; bytes: number; numExamples?: number }
  /** The hash of the run's terms (emitted by whoever publishes them), for the audit log. */
  | { type: 'terms'; sha256: string }
  /** A hello the `authorize` hook refused (not those refused for the rate limit: a flood must not fill the audit log). */
  | { type: 'hello-refused'; siteId: string; code: string; reason: string }
  /** A joined site shared its data summary (counts only; docs/data.md#sharing-the-data-summary). */
  | { type: 'data-summary'; siteId: string; summary: Omit<SiteDataSummary, 'runId' | 'siteId'> }
  | ({ type: 'connection-refused' } & RefusedConnection);

/** Everything the engine needs to continue a run after the last completed round. */
export interface EngineCheckpoint {
  round: number;
  weights: WeightArrays;
  strategyState: unknown;
  report: RunReport;
  /** DP state: the accountant's history and the current clip. */
  privacy?: { accountant: unknown; clip: number };
}

export interface RoundEngineOptions {
  transport: ServerTransport;
  model: GlobalModel;
  config: RunConfig;
  backend: string;
  /** Called after every round with the report so far; awaited (e.g. writes report.json). */
  persist?: (report: RunReport) => Promise<void> | void;
  onEvent?: (event: EngineEvent) => void;
  /** Continue a run from a checkpoint: rounds up to `state.round` are done. */
  resume?: EngineCheckpoint;
  /** Called after every completed round with everything needed to resume; awaited (e.g. writes a checkpoint). */
  checkpoint?: (state: EngineCheckpoint) => Promise<void> | void;
  /** Extra top-level sections for the report (e.g. `simulation`). */
  reportExtras?: { simulation?: Record<string, unknown> };
  /** Text robustness of the final global model (a text task's holdout texts; evaluate-text-robustness.ts): the report's `textRobustness`. */
  textRobustness?: TextRobustnessEvaluator;
  /**
   * Decides whether a hello may join (site tokens: coordinator/src/access). Default: everyone. A refusal
   * may carry the code and reason sent to the site.
   */
  authorize?: (hello: Hello, link: SiteLink) => HelloVerdict;
  /** Refusal limits and the heartbeat timeout of site connections (defaults: connection-limits.ts). */
  connectionLimits?: ConnectionLimitsInput;
  /** Signs the run's terms (coordinator-identity.ts); default a fresh identity held in memory. */
  identity?: CoordinatorIdentity;
  /** Called with each completed round and its global weights before they are checkpointed and sent to sites; awaited (the audit log). */
  roundSaved?: (record: RoundRecord, weights: WeightArrays) => Promise<void> | void;
}

/**
 * Runs a federation's rounds. Knows nothing of fastify or socket.io: it talks to sites through the
 * ServerTransport interface, and to the model through GlobalModel.
 *
 * Per round: sample a fraction of the joined sites (seeded, canonical order), send the topology once per
 * connection and the weights every round, collect results until all selected sites answer or the
 * deadline passes, validate each result, require a quorum, aggregate in site-id order, evaluate, save.
 */
export class RoundEngine {
  readonly sites = new SiteRegistry();
  private readonly connections: SiteConnections;
  private readonly config: RunConfig;
  private readonly strategy;
  private strategyState: unknown;
  /** The fewest accepted updates the strategy can aggregate (part of every round's quorum). */
  private readonly minimumUpdates: number;
  private globalWeights: WeightArrays;
  private collector?: RoundCollector;
  /** The current round's poisoning defences (update-guard.ts). */
  private guard?: UpdateGuard;
  private secureRound?: SecureAggregationRound;
  private evaluation?: EvaluationCollector;
  private siteReportRound?: SiteReportRound;
  private joinWaiters: Array<() => void> = [];
  private stopped = false;
  private accountant?: RdpAccountant;
  /** Who adds the DP noise (distributed-dp-aggregation.ts). */
  private dpNoise?: DpNoise;
  private dpClip = 0;
  /** Non-final rounds' robustness evaluations still running on the evaluation worker (settled by `settleRobustness`). */
  private pendingRobustness: Array<{ round: number; record: RoundRecord; outcome: Promise<{ error?: unknown }> }> = [];
  readonly report: RunReport;
  /** The run's signed terms and the join protocol around them (terms-gate.ts). */
  readonly termsGate: TermsGate;
  /** The data summaries sites agreed to share (data-summaries.ts). */
  private readonly dataSummaries: DataSummaries;

  constructor(private readonly options: RoundEngineOptions) {
    this.strategy = getStrategy(options.config.strategy);
    // Options the user left out may come from what the run knows (Krum's f from expectedMaliciousSites);
    // the report's config shows the options actually used.
    const strategyOptions = this.strategy.completeOptions?.(options.config.strategyOptions, { expectedMaliciousSites: options.config.expectedMaliciousSites }) ?? options.config.strategyOptions;
    this.config = { ...options.config, strategyOptions };
    this.strategyState = this.strategy.initialState(this.config.strategyOptions);
    this.minimumUpdates = this.strategy.minimumUpdates?.(this.config.strategyOptions) ?? 1;
    if (this.config.minSites < this.minimumUpdates) {
      throw new FedtuneError('config', `strategy "${this.strategy.name}" with options ${JSON.stringify(this.config.strategyOptions)} needs at least ${this.minimumUpdates} updates per round, but the run starts with minSites = ${this.config.minSites}: raise minSites (--min-sites, or --sites in simulate) or tolerate fewer byzantine sites (f)`);
    }
    this.globalWeights = options.model.initialWeights;
    const now = new Date().toISOString();
    this.report = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      runId: this.config.runId,
      status: 'waiting',
      startedAt: now,
      updatedAt: now,
      config: this.config as unknown as Record<string, unknown>,
      backend: options.backend,
      model: { architecture: options.model.architecture, parameters: totalParameters(options.model.manifest) },
      rounds: [],
      ...options.reportExtras,
    };
    if (this.config.personalization.mode === 'fedbn' && !JSON.stringify(options.model.topology).includes('"BatchNormalization"')) {
      throw new FedtuneError('config', `personalization mode "fedbn" keeps each site's BatchNorm layers, but the model (${options.model.architecture}) has none: use --arch cnn-bn, a model with BatchNorm layers, or another mode (head, lp-ft, ditto)`);
    }
    if (this.config.dp) {
      if (this.strategy.name !== 'fedavg') {
        throw new FedtuneError('config', `differential privacy runs DP-FedAvg; it cannot be combined with strategy "${this.strategy.name}"`);
      }
      this.accountant = new RdpAccountant();
      this.dpClip = this.config.dp.clip;
    }
    if (this.config.secureAggregation) {
      if (strategyNeedsIndividualUpdates(this.strategy.name)) {
        throw new FedtuneError('config', `strategy "${this.config.strategy}" needs every site's update, but secure aggregation reveals only their sum: use fedavg (or another strategy of the mean) with secure aggregation`);
      }
      const dp = this.config.dp;
      if (dp) {
        // DP on a secure sum (docs/privacy.md): sites clip to C before masking, the coordinator noises the sum.
        if (this.config.secureAggregation.clip !== dp.clip) {
          throw new FedtuneError('config', `secure aggregation and differential privacy must use the same clip: secureAggregation.clip is ${this.config.secureAggregation.clip} but dp.clip is ${dp.clip} (the noise is calibrated to the clip the sites apply before masking)`);
        }
        if (dp.adaptive) {
          throw new FedtuneError('config', 'secure aggregation and differential privacy: adaptive clipping is not supported with secure aggregation (it needs every site\'s clipped/not-clipped bit, which the secure sum hides): use a fixed dp.clip');
        }
      }
      if (this.config.maxUpdateNorm !== undefined) {
        throw new FedtuneError('config', 'maxUpdateNorm checks individual updates, which secure aggregation hides: bound them with secureAggregation.clip instead');
      }
    }
    if (this.config.dp) this.dpNoise = resolveDpNoise(this.config.dp, this.config.secureAggregation !== undefined);
    if (options.resume?.privacy && this.config.dp) {
      this.accountant = RdpAccountant.fromState(options.resume.privacy.accountant as never);
      this.dpClip = options.resume.privacy.clip;
    }
    if (options.resume) {
      this.globalWeights = options.resume.weights;
      this.strategyState = options.resume.strategyState;
      // The report carries the checkpointed history, and the configuration this run continues with.
      // A per-site report in the checkpoint is of an earlier final model: the resumed run makes its own (or none).
      Object.assign(this.report, options.resume.report, { status: 'waiting', updatedAt: now, aborted: undefined, siteReport: undefined, config: this.config as unknown as Record<string, unknown> });
      this.report.resumedAt = [...(options.resume.report.resumedAt ?? []), now];
    }
    this.termsGate = this.createTermsGate(options.identity ?? CoordinatorIdentity.generate());
    this.dataSummaries = new DataSummaries(this.config.runId, this.report.dataSummaries);
    this.connections = new SiteConnections({
      pendingUntilTermsAccepted: true,
      registry: this.sites,
      runId: this.config.runId,
      limits: options.connectionLimits,
      authorize: options.authorize && this.reportingRefusals(options.authorize),
      onJoined: (site, hello, replaced) => this.onJoined(site, hello, replaced),
      onLeft: (site, reason) => this.onSiteLeft(site, reason),
      onMessage: (site, message) => this.onSiteMessage(site, message),
      onInvalid: (site, error) => this.onSiteInvalid(site, error),
      onRefusedConnection: (info) => this.emit({ type: 'connection-refused', ...info }),
    });
    options.transport.onConnection((link) => this.connections.accept(link));
  }

  /** `authorize`, telling the audit log about each hello it refuses (clipped; rate-limited refusals are not told). */
  private reportingRefusals(authorize: NonNullable<RoundEngineOptions['authorize']>): NonNullable<RoundEngineOptions['authorize']> {
    return (hello, link) => {
      const verdict = authorize(hello, link);
      const refused = verdict === false || (typeof verdict === 'object' && !verdict.ok);
      const code = typeof verdict === 'object' && !verdict.ok ? (verdict.code ?? 'unauthorized') : 'unauthorized';
      if (refused && code !== 'rate_limited') {
        const reason = typeof verdict === 'object' && !verdict.ok ? verdict.reason : `site ${hello.siteId} is not allowed to join`;
        this.emit({ type: 'hello-refused', siteId: clipText(hello.siteId, 128), code, reason: clipText(reason) });
      }
      return verdict;
    };
  }

  /** The current global weights (a live reference; copy before mutating). */
  get weights(): WeightArrays {
    return this.globalWeights;
  }

  get currentRound(): number | undefined {
    return this.collector?.round;
  }

  private emit(event: EngineEvent): void {
    this.options.onEvent?.(event);
  }

  /** The run's terms, signed, and what happens to a site's answer (docs/site-policy.md#join). */
  private createTermsGate(identity: CoordinatorIdentity): TermsGate {
    const train = this.strategy.configureTrain?.(this.config.train, { round: this.config.rounds, state: this.strategyState, options: this.config.strategyOptions }) ?? this.config.train;
    const termsTrain = this.config.personalization.mode === 'fedbn' ? { ...train, localBatchNorm: true } : train;
    const signed = signRunTerms(runTermsOf(this.config, this.options.model, identity.publicKey, termsTrain), identity);
    this.report.terms = { hash: signed.hash, coordinator: signed.terms.coordinator };
    return new TermsGate({
      terms: signed,
      answerTimeoutMs: ConnectionLimits.parse(this.options.connectionLimits ?? {}).helloTimeoutMs,
      onAccepted: (site) => {
        this.emit({ type: 'site-joined', siteId: site.siteId, backend: site.backend, runtime: site.runtime, numExamples: site.numExamples });
        for (const wake of this.joinWaiters.splice(0)) wake();
      },
      onRefused: (site, reason) => {
        const refusals = (this.report.termsRefusals ??= { total: 0, sites: [] });
        refusals.total++;
        if (refusals.sites.length < MAX_REPORTED_REFUSALS) refusals.sites.push({ siteId: site.siteId, reason, at: new Date().toISOString() });
        this.emit({ type: 'site-refused', siteId: site.siteId, reason });
        site.link.close();
      },
      onBadAnswer: (site, code, reason) => {
        this.rejectMessage(site.link, code, reason);
        site.link.close();
      },
    });
  }

  /** A site joined (SiteConnections has registered and welcomed it). */
  private onJoined(site: SiteState, _hello: Hello, replaced: SiteState | undefined): void {
    if (replaced) {
      // A site that reconnects (its old connection closed or silent): the new connection replaces it.
      this.collector?.fail(site.siteId, 'reconnected during the round');
      this.secureRound?.drop(site.siteId);
      this.evaluation?.drop(site.siteId);
      this.siteReportRound?.fail(site.siteId, 'reconnected during the site report');
    }
    if (this.report.status === 'complete' || this.report.status === 'aborted') {
      // Joined (or rejoined) after the end: tell it the run is over.
      site.link.send('complete', this.completeMessage());
      return;
    }
    // It joins once it accepts the run's terms (termsGate: 'site-joined' then).
    this.termsGate.offer(site);
  }

  private onSiteLeft(site: SiteState, reason: string): void {
    this.termsGate.settle(site);
    if (!site.termsAccepted) return; // it never joined
    this.collector?.fail(site.siteId, `disconnected: ${reason}`);
    this.secureRound?.drop(site.siteId);
    this.evaluation?.drop(site.siteId);
    this.siteReportRound?.fail(site.siteId, `disconnected: ${reason}`);
    this.emit({ type: 'site-left', siteId: site.siteId, reason });
  }

  /** A joined site's message failed its schema: recorded against the site (reason clipped) and refused. */
  private onSiteInvalid(site: SiteState, error: FedtuneError): void {
    const reason = clipText(error.message);
    this.collector?.reject({ siteId: site.siteId, code: error.code, reason });
    this.emit({ type: 'result', round: this.collector?.round ?? 0, siteId: site.siteId, accepted: false, code: error.code, reason });
    this.rejectMessage(site.link, error.code, reason, this.collector?.round);
  }

  private rejectMessage(link: SiteLink, code: string, reason: string, round?: number): void {
    this.connections.refuse(link, code, reason, round);
  }

  private onSiteMessage(site: SiteState, message: SiteMessage): void {
    const link = site.link;
    const claimed = message.payload.siteId;
    if (claimed !== site.siteId) {
      const reason = `connection joined as ${site.siteId} but the message claims ${claimed}`;
      this.collector?.reject({ siteId: site.siteId, code: 'unauthorized', reason });
      return this.rejectMessage(link, 'unauthorized', reason, 'round' in message.payload ? message.payload.round : undefined);
    }
    if (message.event === 'acceptTerms') return this.termsGate.accept(site, message.payload);
    if (message.event === 'refuseTerms') return this.termsGate.refuse(site, message.payload);
    if (!site.termsAccepted && message.event !== 'heartbeat') return this.rejectMessage(link, 'unauthorized', `accept the run's terms before sending "${message.event}"`);
    switch (message.event) {
      case 'fitResult':
        return this.onFitResult(site.siteId, link, message.payload);
      case 'evaluateResult': {
        const r = message.payload;
        if (this.evaluation && r.round === this.evaluation.round && r.runId === this.config.runId && this.evaluation.expects(site.siteId)) {
          this.evaluation.add({ siteId: site.siteId, accuracy: r.metrics.accuracy, loss: r.metrics.loss, numExamples: r.numExamples }, r.calibration);
          // Only the version it was just sent, and only when sites keep their model: any other claim is ignored.
          site.heldModelVersion = this.config.sitesKeepModel && r.heldModelVersion !== undefined && r.heldModelVersion === this.evaluation.modelVersion ? r.heldModelVersion : undefined;
        }
        return;
      }
      case 'siteReportResult': {
        const r = message.payload;
        const pending = this.siteReportRound;
        if (pending && r.round === pending.round && r.runId === this.config.runId && pending.expects(site.siteId)) pending.add(site.siteId, r);
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
        // A site that failed may have lost its model: the next instruction carries the weights again.
        site.heldModelVersion = undefined;
        if (this.collector && f.round === this.collector.round) {
          this.collector.fail(site.siteId, `${f.code}: ${f.reason}`);
          this.secureRound?.drop(site.siteId);
        }
        this.evaluation?.drop(site.siteId);
        if (this.siteReportRound && f.round === this.siteReportRound.round) this.siteReportRound.fail(site.siteId, `${f.code}: ${f.reason}`);
        return;
      }
    }
  }

  /** A joined site's data summary: recorded once (report.json's dataSummaries), or refused with a typed code. */
  private onDataSummary(site: SiteState, summary: ClientToServer['dataSummary']): void {
    try {
      this.dataSummaries.add(summary);
    } catch (err) {
      const e = toFedtuneError(err);
      return this.rejectMessage(site.link, e.code, clipText(e.message));
    }
    this.report.dataSummaries = this.dataSummaries.report();
    const { runId: _runId, siteId: _siteId, ...counts } = summary;
    this.emit({ type: 'data-summary', siteId: site.siteId, summary: counts });
  }

  private onSecAgg<K extends SecAggClientEvent>(siteId: string, link: SiteLink, event: K, payload: ClientToServer[K]): void {
    const secure = this.secureRound;
    if (event === 'secaggMasked') {
      const masked = (payload as ClientToServer['secaggMasked']).masked;
      this.emit({ type: 'update-received', round: payload.round, siteId, message: 'secaggMasked', sha256: sha256OfBytes(masked), bytes: masked.byteLength });
    }
    try {
      if (!secure) throw new FedtuneError('stale_round', 'no secure-aggregation round is in progress');
      secure.receive(siteId, event, payload);
    } catch (err) {
      const code = err instanceof FedtuneError ? err.code : 'malformed_payload';
      const reason = err instanceof Error ? err.message : String(err);
      this.collector?.reject({ siteId, code, reason });
      this.emit({ type: 'result', round: payload.round, siteId, accepted: false, code, reason });
      this.rejectMessage(link, code, reason, payload.round);
      // A site whose message the protocol refused cannot go on in this attempt.
      if (secure && code !== 'stale_round') secure.drop(siteId);
    }
  }

  private onFitResult(siteId: string, link: SiteLink, result: ClientToServer['fitResult']): void {
    const c = this.collector;
    this.emit({ type: 'update-received', round: c?.round ?? result.round, siteId, message: 'fitResult', sha256: sha256OfBytes(result.weights), bytes: result.weights.byteLength, numExamples: result.numExamples });
    if (!c) {
      this.rejectMessage(link, 'stale_round', 'no round is in progress', result.round);
      return;
    }
    if (this.config.secureAggregation) {
      const reason = 'this run uses secure aggregation: plain updates are refused';
      c.reject({ siteId, code: 'malformed_payload', reason });
      this.emit({ type: 'result', round: c.round, siteId, accepted: false, code: 'malformed_payload', reason });
      this.rejectMessage(link, 'malformed_payload', reason, result.round);
      return;
    }
    const verdict = validateFitResult(siteId, result, {
      runId: this.config.runId,
      round: c.round,
      selected: c.selected,
      alreadyReceived: c.accepted,
      manifest: this.options.model.manifest,
      maxExamples: this.config.maxExamplesPerSite,
      announced: this.sites.get(siteId)?.numExamples,
      maxUpdateBytes: this.config.maxUpdateBytes,
      global: this.globalWeights,
      maxUpdateNorm: this.config.maxUpdateNorm,
      // A streamed round's exact sum takes values up to ±maxAbs: the rest is refused here, in the norm's pass.
      maxAbs: c.stream?.maxAbs,
    });
    if (verdict.ok && c.closed) {
      const reason = `round ${c.round} closed before this result arrived`;
      c.reject({ siteId, code: 'stale_round', reason });
      this.emit({ type: 'result', round: c.round, siteId, accepted: false, code: 'stale_round', reason });
      this.rejectMessage(link, 'stale_round', reason, result.round);
    } else if (verdict.ok) {
      const effectiveExamples = this.guard ? this.guard.effectiveExamples(verdict.numExamples) : verdict.numExamples;
      c.accept({ siteId, weights: verdict.weights, numExamples: verdict.numExamples, effectiveExamples, norm: verdict.norm, metrics: result.metrics, durationMs: result.durationMs, bytes: result.weights.byteLength });
      // Reported accepted only once it is certain to be in the aggregate; otherwise the round's close decides.
      if (!this.guard || this.guard.certain(verdict.norm)) this.emit({ type: 'result', round: c.round, siteId, accepted: true });
      else this.emit({ type: 'result-held', round: c.round, siteId, reason: 'held until the round closes and its adaptive norm bound is known' });
    } else {
      c.reject({ siteId, code: verdict.code, reason: verdict.reason });
      this.emit({ type: 'result', round: c.round, siteId, accepted: false, code: verdict.code, reason: verdict.reason });
      this.rejectMessage(link, verdict.code, verdict.reason, result.round);
    }
  }

  /**
   * Waits until `minSites` sites are joined. With `graceMs` (between rounds), waits at most that long and
   * then goes on with whoever is there, as long as one site is; otherwise waits up to joinTimeoutMs (0 = forever).
   */
  private async waitForSites(graceMs?: number): Promise<void> {
    const started = Date.now();
    while (this.sites.size < this.config.minSites) {
      if (this.stopped) throw new FedtuneError('internal', 'stopped while waiting for sites');
      this.emit({ type: 'waiting', joined: this.sites.size, needed: this.config.minSites });
      const limit = graceMs !== undefined && this.sites.size > 0 ? graceMs : this.config.joinTimeoutMs;
      const remaining = limit > 0 ? limit - (Date.now() - started) : Infinity;
      if (remaining <= 0) {
        if (graceMs !== undefined && this.sites.size > 0) return;
        throw new FedtuneError('timeout', `only ${this.sites.size} of ${this.config.minSites} sites joined within ${this.config.joinTimeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(remaining) ? setTimeout(resolve, remaining) : undefined;
        this.joinWaiters.push(() => {
          if (timer) clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Seeded sample of ceil(fraction × joined) sites, returned in canonical order. */
  private sample(round: number, attempt: number): string[] {
    const ids = this.sites.ids();
    const k = Math.max(1, Math.ceil(this.config.fraction * ids.length));
    if (k >= ids.length) return ids;
    const rng = new SeededRandom(deriveSeed(this.config.seed, 'sample', round, attempt));
    return rng.shuffle([...ids]).slice(0, k).sort();
  }

  /** Keeps a non-final round's robustness evaluation running past the round (never an unhandled rejection). */
  private deferRobustness(round: number, record: RoundRecord, robustness: Promise<void>): void {
    this.pendingRobustness.push({ round, record, outcome: robustness.then(() => ({}), (error: unknown) => ({ error })) });
  }

  /**
   * Waits for the robustness evaluation of an earlier round, which then is in that round's record (and in
   * the next checkpoint and report); its failure fails the run as an in-round failure would.
   */
  private async settleRobustness(before = Infinity): Promise<void> {
    while (this.pendingRobustness.length > 0 && this.pendingRobustness[0].round < before) {
      const pending = this.pendingRobustness.shift()!;
      const { error } = await pending.outcome;
      if (error) throw error;
      if (pending.record.robustness) this.emit({ type: 'robustness-end', round: pending.round, robustness: pending.record.robustness });
    }
  }

  /**
   * The sites asked for a federated evaluation: a seeded sample of ceil(evaluationFraction × joined), at most
   * maxEvaluationSites (0 = no cap), at least one, in canonical order.
   */
  private evaluationSample(round: number): string[] {
    const ids = this.sites.ids();
    const cap = this.config.maxEvaluationSites > 0 ? this.config.maxEvaluationSites : Infinity;
    const k = Math.min(cap, Math.max(1, Math.ceil(this.config.evaluationFraction * ids.length)));
    if (k >= ids.length) return ids;
    const rng = new SeededRandom(deriveSeed(this.config.seed, 'evaluate', round));
    return rng.shuffle([...ids]).slice(0, k).sort();
  }

  private async persist(): Promise<void> {
    this.report.updatedAt = new Date().toISOString();
    await this.options.persist?.(this.report);
  }

  /** Runs the whole federation and returns the final report. */
  async run(): Promise<RunReport> {
    try {
      // The run's published terms go first into the audit trail (their hash; the terms are at GET /api/v1/terms).
      if (this.report.terms) this.emit({ type: 'terms', sha256: this.report.terms.hash });
      await this.waitForSites();
      this.report.status = 'running';
      if (!this.report.pretrained) {
        this.report.pretrained = await this.options.model.evaluate(this.globalWeights);
        this.emit({ type: 'pretrained', ...this.report.pretrained });
      }
      await this.persist();
      const first = (this.options.resume?.round ?? 0) + 1;
      for (let round = first; round <= this.config.rounds && !this.stopped; round++) {
        const record = await this.runRound(round);
        // The previous round's robustness evaluation overlapped this round: its result joins the checkpoint below.
        await this.settleRobustness(round);
        this.report.rounds.push(record);
        this.report.final = { ...record.global, modelDir: record.modelDir, round };
        await saving(`the audit log of round ${round}`, () => this.options.roundSaved?.(record, this.globalWeights));
        await saving(`the checkpoint of round ${round}`, () =>
          this.options.checkpoint?.({
            round,
            weights: this.globalWeights,
            strategyState: this.strategyState,
            report: this.report,
            privacy: this.accountant ? { accountant: this.accountant.state, clip: this.dpClip } : undefined,
          }),
        );
        await saving(`the report after round ${round}`, () => this.persist());
        this.emit({ type: 'round-end', record });
      }
      await this.settleRobustness();
      if (!this.stopped && this.report.rounds.length > 0 && this.options.textRobustness) this.report.textRobustness = await this.options.textRobustness(this.globalWeights);
      if (!this.stopped && this.report.rounds.length > 0 && wantsSiteReport(this.config)) {
        this.report.siteReport = await this.runSiteReport(this.report.rounds.at(-1)!.round);
      }
      this.report.status = this.stopped ? 'aborted' : 'complete';
      if (this.stopped) this.report.aborted = 'stopped';
    } catch (err) {
      this.report.status = 'aborted';
      this.report.aborted = err instanceof Error ? err.message : String(err);
    }
    // An aborted run still waits for the robustness evaluations in flight (their errors are moot by now).
    for (const pending of this.pendingRobustness.splice(0)) await pending.outcome;
    try {
      await saving('the final report', () => this.persist());
    } catch (err) {
      // The sites are told either way: a coordinator that cannot write must not leave them waiting.
      this.report.status = 'aborted';
      this.report.aborted = [this.report.aborted, (err as Error).message].filter(Boolean).join('; ');
    }
    for (const site of this.sites.all()) site.link.send('complete', this.completeMessage());
    this.emit({ type: 'complete', report: this.report });
    return this.report;
  }

  /** The 'complete' message: always valid against its schema (no NaN, bounded reason), so sites exit cleanly. */
  private completeMessage(): RunComplete {
    const final = this.report.final;
    return {
      runId: this.config.runId,
      rounds: this.report.rounds.length,
      final: final && Number.isFinite(final.accuracy) && Number.isFinite(final.loss) ? { accuracy: final.accuracy, loss: final.loss } : undefined,
      aborted: this.report.aborted?.slice(0, 2000),
    };
  }

  /** The poisoning defences for one attempt of plain updates: weight cap and adaptive norm bound (update-guard.ts). */
  private updateGuard(selected: string[]): UpdateGuard {
    const cap = Math.min(this.config.maxExamplesPerSite, this.config.train.maxExamples ?? Infinity);
    return new UpdateGuard({
      // DP clips every update and must not make data-dependent choices; secure aggregation hides the norms (sites clip).
      normBoundMultiple: this.config.dp || this.config.secureAggregation ? 0 : this.config.normBoundMultiple,
      exampleWeightCap: this.config.secureAggregation ? 0 : this.config.exampleWeightCap,
      previousMedianNorm: this.report.rounds.at(-1)?.updateNorms?.median,
      announced: selected.map((id) => Math.min(this.sites.get(id)?.numExamples ?? 0, cap)),
    });
  }

  /** Asks the engine to stop after the current round. */
  stop(): void {
    this.stopped = true;
    this.termsGate.close();
    this.collector?.finish();
    this.secureRound?.abort('stopped');
    for (const wake of this.joinWaiters.splice(0)) wake();
  }

  /** The round's training settings: the run's, with the round's ε (warm-up), as the strategy configures them (its one hook to the sites). */
  private trainSettings(round: number): TrainSettings {
    const train = warmedUpTrain(this.config.train, round);
    return this.strategy.configureTrain?.(train, { round, state: this.strategyState, options: this.config.strategyOptions }) ?? train;
  }

  private sendTopology(siteId: string): number {
    const site = this.sites.get(siteId);
    if (!site || site.hasTopology) return 0;
    const text = this.options.model.text;
    const payload = { runId: this.config.runId, modelVersion: 0, topology: this.options.model.topology, manifest: this.options.model.manifest, ...(text ? { text } : {}) };
    site.link.send('model', payload);
    site.hasTopology = true;
    return JSON.stringify(payload).length;
  }

  /** The weights to send with an instruction for `version`: none when the site holds that version already. */
  private weightsFor(site: SiteState, version: number, bytes: Uint8Array): Uint8Array | undefined {
    return this.config.sitesKeepModel && site.heldModelVersion === version ? undefined : bytes;
  }

  private async runRound(round: number): Promise<RoundRecord> {
    const started = Date.now();
    const { model } = this.options;
    let bytesDown = 0;
    let bytesUp = 0;
    const rejected: RoundRecord['rejected'] = [];
    const failed: RoundRecord['failed'] = [];
    /** Aggregates the model adoption guard refused, by attempt (model-adoption.ts). */
    const refusals: Array<{ attempt: number; reason: string }> = [];
    for (let attempt = 1; ; attempt++) {
      // Sites that dropped get a grace period to rejoin before the next sample is drawn.
      if (this.sites.size < this.config.minSites) await this.waitForSites(this.config.rejoinGraceMs);
      const selected = this.sample(round, attempt);
      this.emit({ type: 'round-start', round, attempt, selected });
      const weightsBytes = encodeWeights({ manifest: model.manifest, arrays: this.globalWeights });
      const collector = new RoundCollector(round, new Set(selected), this.config.roundTimeoutMs);
      // Plain FedAvg streams: each accepted update is folded in on arrival and dropped (order-independent sum).
      const streaming = this.strategy.name === 'fedavg' && !this.config.dp && !this.config.secureAggregation;
      if (streaming) collector.stream = new StreamingFedAvg(this.options.model.manifest.map((m) => m.shape.reduce((a, b) => a * b, 1)));
      const guard = this.updateGuard(selected);
      collector.streamBound = guard.streamBound;
      this.guard = guard;
      this.collector = collector;
      const secure = this.config.secureAggregation ? this.prepareSecureRound(round, attempt, selected) : undefined;
      const modelVersion = round - 1;
      const settings = this.trainSettings(round);
      // Encoded once, the same bytes for every site; sent in chunks with a turn of the event loop between
      // (all at once under secure aggregation: its first phase must be running before any site can answer).
      await pacedFanOut(secure && !secure.round ? [] : selected, (siteId) => {
        const site = this.sites.get(siteId);
        if (!site || site.link.closed) {
          collector.fail(siteId, 'left before the round started');
          secure?.round?.drop(siteId);
          return;
        }
        bytesDown += this.sendTopology(siteId);
        const weights = this.weightsFor(site, modelVersion, weightsBytes);
        site.link.send('fit', {
          runId: this.config.runId,
          round,
          modelVersion,
          ...(weights ? { weights } : {}),
          ...(this.config.sitesKeepModel ? {} : { dropModel: true }),
          config: { ...settings, seed: deriveSeed(this.config.seed, 'fit', round, siteId), ...(this.config.personalization.mode === 'fedbn' ? { localBatchNorm: true } : {}) },
          ...(secure?.round ? { secureAggregation: secure.instruction } : {}),
        });
        // Training changes the site's model: it no longer holds any global version.
        site.heldModelVersion = undefined;
        bytesDown += weights?.byteLength ?? 0;
      }, secure ? Infinity : undefined);
      const needed = Math.max(this.minimumUpdates, Math.ceil(this.config.quorum * selected.length));
      // Canonical order: by site id, so arrival order never changes the result.
      let updates: Array<{ siteId: string; weights: WeightArrays; numExamples: number }>;
      let accepted: RoundRecord['accepted'];
      let updateNorms: RoundRecord['updateNorms'];
      let failure: string | undefined;
      let secureSum: SecureRoundResult | undefined;
      if (secure) {
        const outcome = await this.runSecureRound(secure.round, selected, collector);
        failure = outcome.failure ?? secure.failure;
        failed.push(...collector.failed);
        bytesUp += outcome.result?.bytesUp ?? secure.round?.bytesUp ?? 0;
        bytesDown += outcome.result?.bytesDown ?? secure.round?.bytesDown ?? 0;
        const r = outcome.result;
        if (r && !failure && r.survivors.length < needed) failure = `quorum not met: ${r.survivors.length} of ${selected.length} sites in the secure sum, ${needed} needed`;
        if (r && !failure && !(r.totalWeight > 0)) failure = 'the secure sum carries no weight (sites with no examples)';
        // The coordinator learns only the survivors' weighted mean delta: one aggregate "update".
        secureSum = r;
        updates = r ? [{ siteId: 'secure-aggregate', weights: this.globalWeights.map((g, i) => addInto(g, r.mean[i])), numExamples: Math.max(1, r.survivors.reduce((n, id) => n + (r.reports.get(id)?.numExamples ?? 0), 0)) }] : [];
        accepted = r ? r.survivors.map((id) => {
          const rep = r.reports.get(id)!;
          return { siteId: id, numExamples: rep.numExamples, loss: rep.metrics.loss, accuracy: rep.metrics.accuracy, durationMs: rep.durationMs, ...siteEpsilon(rep.metrics) };
        }) : [];
      } else {
        await collector.done;
        for (const siteId of selected) {
          if (!collector.answered.has(siteId)) collector.failed.push({ siteId, reason: `no result within ${this.config.roundTimeoutMs} ms` });
        }
        failed.push(...collector.failed);
        bytesUp += [...collector.accepted.values()].reduce((n, u) => n + u.bytes, 0);
        // The adaptive norm bound, decided on the round's full set of norms (update-guard.ts).
        const undecided = [...collector.accepted.values()].filter((u) => !guard.certain(u.norm)).map((u) => u.siteId);
        const norms = guard.settle(collector);
        // The held updates the bound kept are now certain to be in the aggregate (site-id order).
        for (const siteId of undecided.sort()) if (collector.accepted.has(siteId)) this.emit({ type: 'result', round, siteId, accepted: true });
        for (const o of norms.outliers) {
          collector.rejected.push(o);
          this.emit({ type: 'result', round, siteId: o.siteId, accepted: false, code: o.code, reason: o.reason });
          const link = this.sites.get(o.siteId)?.link;
          if (link) this.rejectMessage(link, o.code, o.reason, round);
        }
        if (guard.normBoundActive && norms.median !== undefined) updateNorms = { median: norms.median, bound: norms.bound };
        const plain = [...collector.accepted.values()].sort((a, b) => (a.siteId < b.siteId ? -1 : a.siteId > b.siteId ? 1 : 0));
        if (plain.length < needed) failure = `quorum not met: ${plain.length} of ${selected.length} results accepted, ${needed} needed${whyMissing(collector.failed, collector.rejected)}`;
        updates = plain.map((u) => ({ siteId: u.siteId, weights: u.weights, numExamples: u.effectiveExamples }));
        accepted = plain.map((u) => ({
          siteId: u.siteId,
          numExamples: u.numExamples,
          ...(u.effectiveExamples !== u.numExamples ? { effectiveExamples: u.effectiveExamples } : {}),
          loss: u.metrics.loss,
          accuracy: u.metrics.accuracy,
          durationMs: u.durationMs,
          ...siteEpsilon(u.metrics),
        }));
      }
      if (failure !== undefined || this.stopped) {
        const reason = this.stopped ? 'stopped' : failure!;
        rejected.push(...collector.rejected);
        this.collector = undefined;
        this.guard = undefined;
        if (this.stopped || attempt >= this.config.maxRoundAttempts) {
          throw new FedtuneError('quorum_not_met', `round ${round} failed after ${attempt} attempt(s): ${reason}`);
        }
        this.emit({ type: 'round-retry', round, attempt, reason });
        continue;
      }
      let privacy: RoundRecord['privacy'];
      // The aggregate is a candidate until the adoption guard accepts it (model-adoption.ts).
      let candidate: WeightArrays;
      let candidateState = this.strategyState;
      if (this.config.dp && this.accountant) {
        const dp = this.config.dp;
        const samplingRate = Math.min(1, selected.length / Math.max(1, this.sites.size, selected.length));
        // Under secure aggregation only the survivors' sum is known: 'central' noises it here, 'distributed' sums
        // the sites' own noise and adds nothing (clippedShare unknown: null).
        const distributed = secureSum && this.dpNoise === 'distributed' ? secureSum : undefined;
        const r = distributed
          ? aggregateDistributedDpSecureSum(this.globalWeights, distributed.weightedSum, this.dpClip)
          : secureSum
            ? aggregateDpSecureSum(this.globalWeights, secureSum.weightedSum, selected.length, this.dpClip, dp, dpNoiseRandom(dp, round))
            : aggregateDp(this.globalWeights, updates.map((u) => u.weights), selected.length, this.dpClip, dp, dpNoiseRandom(dp, round));
        candidate = r.weights;
        const instruction = distributed ? secure!.instruction! : undefined;
        const z = instruction
          ? distributedRoundNoiseMultiplier(
              { noiseMultiplier: dp.noiseMultiplier, clip: instruction.clip, threshold: instruction.threshold, weight: 1 / instruction.weightDenominator },
              { survivors: distributed!.survivors.length, scale: instruction.fixedPoint.scale, vectorLength: instruction.vectorLength },
            )
          : dp.noiseMultiplier;
        this.accountant.step(z, samplingRate);
        const eps = z > 0 ? this.accountant.getEpsilon(dp.delta) : { epsilon: Infinity, order: undefined };
        privacy = {
          ...(this.dpNoise ? { noise: this.dpNoise } : {}),
          ...(instruction ? { distributed: { configuredNoiseMultiplier: dp.noiseMultiplier, threshold: instruction.threshold, survivors: distributed!.survivors.length } } : {}),
          epsilon: eps.epsilon,
          delta: dp.delta,
          order: eps.order,
          noiseMultiplier: z,
          clip: r.clip,
          nextClip: r.nextClip,
          samplingRate,
          clippedShare: r.clippedShare,
          steps: this.accountant.steps,
        };
        this.dpClip = r.nextClip;
        this.report.privacy = privacy;
      } else if (collector.stream) {
        candidate = collector.stream.result();
      } else {
        const result = this.strategy.aggregate(
          this.globalWeights,
          updates.map((u) => ({ siteId: u.siteId, weights: u.weights, numExamples: u.numExamples })),
          this.strategyState,
          this.config.strategyOptions,
        );
        candidate = result.weights;
        candidateState = result.state;
      }
      const weightsVerdict = checkCandidateWeights(candidate);
      const candidateMetrics = weightsVerdict.ok ? await model.evaluate(candidate) : undefined;
      // Under DP the clip already bounds every site's pull (C/m) and the noise lowers accuracy by design: a retry
      // would spend privacy budget on it, so only the non-finite check applies.
      const maxDrop = this.config.dp ? 1 : this.config.maxAccuracyDrop;
      const adoption = candidateMetrics ? checkCandidateMetrics(candidateMetrics, this.report.final ?? this.report.pretrained, maxDrop) : weightsVerdict;
      let global: GlobalMetrics;
      if (adoption.ok) {
        this.globalWeights = candidate;
        this.strategyState = candidateState;
        global = candidateMetrics!;
      } else {
        refusals.push({ attempt, reason: adoption.reason });
        if (attempt < this.config.maxRoundAttempts && !this.stopped) {
          rejected.push(...collector.rejected);
          this.collector = undefined;
          this.guard = undefined;
          this.emit({ type: 'round-retry', round, attempt, reason: `model not adopted: ${adoption.reason}` });
          continue;
        }
        // Attempts exhausted: the round keeps the current model, which stays what the sites get.
        global = await model.evaluate(this.globalWeights);
      }
      const { when, certify, ...robustnessOptions } = this.config.robustness;
      const robustnessNow = Boolean(model.evaluateRobustness) && shouldEvaluateRobustness(when, round, this.config.rounds);
      // Temperature scaling where robustness is evaluated; the temperature is saved with the model (model.json).
      const calibration = robustnessNow ? await this.calibrate(round) : undefined;
      const modelDir = await saving(`the round-${round} model`, () =>
        model.save(round, this.globalWeights, {
          ...(privacy ? { privacy: { epsilon: privacy.epsilon, delta: privacy.delta } } : {}),
          ...(calibration?.fit ? { calibration: calibration.fit } : {}),
        }),
      );
      const record: RoundRecord = {
        round,
        durationMs: 0,
        attempts: attempt,
        selected,
        accepted,
        rejected,
        failed,
        bytesDown,
        bytesUp,
        global,
        modelDir,
        ...(privacy ? { privacy } : {}),
        ...(updateNorms ? { updateNorms } : {}),
        ...(refusals.length > 0 ? { adoption: { adopted: adoption.ok, refusals } } : {}),
      };
      // The robustness evaluation runs on the evaluation worker (tf-global-model.ts) while the round goes on:
      // in the final round it overlaps the federated evaluation and is awaited before the round ends; in an
      // earlier round it overlaps the next round and lands in this round's record before the next checkpoint.
      let robustness: Promise<void> | undefined;
      if (model.evaluateRobustness && robustnessNow) {
        this.emit({ type: 'robustness-start', round });
        if (calibration) record.bytesDown += calibration.bytesDown;
        robustness = model
          .evaluateRobustness(this.globalWeights, {
            ...robustnessOptions,
            ...(calibration?.fit ? { calibration: calibration.fit } : {}),
            // Randomized smoothing certifies the final model only (it costs n0 + n forward passes per example).
            ...(certify && round === this.config.rounds ? { certify } : {}),
          })
          .then((report) => {
            if (calibration?.warning) report.warnings.push(calibration.warning);
            record.robustness = report;
            if (round === this.config.rounds) this.report.finalRobustness = report;
          });
      }
      const wantFederated =
        this.config.federatedEvaluation === 'every-round' || (this.config.federatedEvaluation === 'final' && round === this.config.rounds);
      try {
        if (wantFederated) {
          const fed = await this.federatedEvaluate(round);
          record.federated = fed.summary;
          record.bytesDown += fed.bytesDown;
        }
      } catch (err) {
        // The round fails: its robustness evaluation must not become an unhandled rejection.
        robustness?.catch(() => undefined);
        throw err;
      }
      if (robustness && round === this.config.rounds) await robustness;
      else if (robustness) this.deferRobustness(round, record, robustness);
      // Late results that arrived while the round was being aggregated and evaluated are recorded too.
      rejected.push(...collector.rejected);
      this.collector = undefined;
      this.guard = undefined;
      record.durationMs = Date.now() - started;
      return record;
    }
  }

  /**
   * Secure aggregation for one attempt: the threshold and the instruction sent with 'fit', or why the
   * attempt cannot run (fewer invited sites than the threshold needs).
   */
  private prepareSecureRound(round: number, attempt: number, selected: string[]): { round?: SecureAggregationRound; instruction?: SecureAggInstruction; failure?: string } {
    const config = this.config.secureAggregation!;
    const threshold = secAggThreshold(selected.length, config);
    if (threshold === undefined) {
      return { failure: `quorum not met: secure aggregation needs at least ${Math.max(2, config.threshold ?? 2)} sites, ${selected.length} selected` };
    }
    const cap = this.config.train.maxExamples ?? Infinity;
    // Weights numExamples / Σ (examples the selected sites announced), so Σw ≤ 1 for honest sites.
    const denominator = Math.max(1, selected.reduce((n, id) => n + Math.min(this.sites.get(id)?.numExamples ?? 0, cap), 0));
    const lengths = this.options.model.manifest.map((s) => s.shape.reduce((a, b) => a * b, 1));
    // With DP every site weighs the same (w = 1/m for the m selected sites): one site moves the sum by ≤ C/m.
    const instruction = this.config.dp
      ? secAggInstruction(attempt, selected, threshold, lengths.reduce((a, b) => a + b, 0), config, selected.length, 'uniform', this.dpNoise === 'distributed' ? { noiseMultiplier: this.config.dp.noiseMultiplier } : undefined)
      : secAggInstruction(attempt, selected, threshold, lengths.reduce((a, b) => a + b, 0), config, denominator);
    const secure = new SecureAggregationRound({
      runId: this.config.runId,
      round,
      instruction,
      lengths,
      firstPhaseTimeoutMs: this.config.roundTimeoutMs,
      phaseTimeoutMs: config.phaseTimeoutMs ?? this.config.roundTimeoutMs,
      send: (siteId, event, payload) => {
        const site = this.sites.get(siteId);
        if (!site || site.link.closed) return false;
        site.link.send(event, payload);
        return true;
      },
    });
    return { round: secure, instruction };
  }

  /** Runs the secure phases of an attempt; a lost quorum becomes the attempt's failure, never a wrong sum. */
  private async runSecureRound(secure: SecureAggregationRound | undefined, selected: string[], collector: RoundCollector): Promise<{ result?: SecureRoundResult; failure?: string }> {
    if (!secure) {
      collector.finish();
      return {};
    }
    this.secureRound = secure;
    try {
      const result = await secure.run();
      const inSum = new Set(result.survivors);
      for (const id of selected) {
        if (inSum.has(id) || collector.answered.has(id)) continue;
        const reason = result.dropped.includes(id) ? 'dropped after sharing its keys (its masks were removed)' : 'no secure-aggregation message before the phase deadline';
        collector.failed.push({ siteId: id, reason });
      }
      return { result };
    } catch (err) {
      if (err instanceof FedtuneError && err.code === 'quorum_not_met') {
        for (const id of selected) if (!collector.answered.has(id) && !secure.reports.has(id)) collector.failed.push({ siteId: id, reason: 'no secure-aggregation message before the phase deadline' });
        return { failure: err.message };
      }
      throw err;
    } finally {
      this.secureRound = undefined;
      collector.finish();
    }
  }

  /**
   * After the final round: every joined site evaluates the pretrained and final models on its own test split,
   * personalises its copy (and keeps it) and trains the local-only baseline as configured, and sends back
   * aggregates only (site-report-round.ts). Sites that leave or fail are listed as missing; the run goes on.
   */
  private async runSiteReport(round: number): Promise<NonNullable<RunReport['siteReport']>> {
    // Every site that took part in a round or is joined now: one that left is reported as missing.
    const ids = [...new Set([...this.sites.ids(), ...this.report.rounds.flatMap((r) => r.selected)])].sort();
    const { manifest, initialWeights } = this.options.model;
    const global = encodeWeights({ manifest, arrays: this.globalWeights });
    const pretrained = encodeWeights({ manifest, arrays: initialWeights });
    const pending = new SiteReportRound(round, ids, this.config.roundTimeoutMs);
    this.siteReportRound = pending;
    this.emit({ type: 'site-report-start', round, sites: ids });
    for (const siteId of ids) {
      const site = this.sites.get(siteId);
      if (!site || site.link.closed) {
        pending.fail(siteId, 'disconnected before the site report (left the run)');
        continue;
      }
      this.sendTopology(siteId);
      site.link.send('siteReport', siteReportInstruction(this.config, round, siteId, this.trainSettings(round), { global, pretrained }));
    }
    await pending.done;
    this.siteReportRound = undefined;
    return pending.section(this.config);
  }

  /**
   * The run's temperature scaling of the current global model (config `calibration.source`): on the holdout,
   * or federated on the sites' validation splits (falling back to the holdout, with a warning, when no site
   * can answer for the whole fit). Undefined when off or the model cannot fit one.
   */
  private async calibrate(round: number): Promise<{ fit?: { temperature: number; source: 'holdout' | 'federated'; fittedOn: number }; warning?: string; bytesDown: number } | undefined> {
    const source = this.config.calibration.source;
    const model = this.options.model;
    if (source === 'off' || !model.fitTemperature) return undefined;
    let warning: string | undefined;
    let bytesDown = 0;
    if (source === 'federated') {
      try {
        const fit = await fitFederatedTemperature(async (betas, participants) => {
          const answer = await this.calibrationQuery(round, betas, participants);
          bytesDown += answer.bytesDown;
          return answer.sums;
        });
        return { fit: { temperature: fit.temperature, source, fittedOn: fit.fittedOn }, bytesDown };
      } catch (err) {
        if (!(err instanceof FedtuneError) || (err.code !== 'data' && err.code !== 'quorum_not_met')) throw err;
        warning = clipText(`federated calibration failed (${err.message}); the temperature was fitted on the coordinator's holdout`);
      }
    }
    const fit = await model.fitTemperature(this.globalWeights);
    return { fit: { ...fit, source: 'holdout' }, bytesDown, ...(warning ? { warning } : {}) };
  }

  /** One question of a federated temperature fit: the joined sites asked (`only`: those of them) get the model and the inverse temperatures. */
  private async calibrationQuery(round: number, betas: readonly number[], only?: readonly string[]): Promise<{ sums: ReadonlyMap<string, CalibrationAnswer>; bytesDown: number }> {
    const ids = only ? this.sites.ids().filter((id) => only.includes(id)) : this.sites.ids();
    const { collector, bytesDown } = await this.collectEvaluations(round, ids, { betas: [...betas] });
    return { sums: collector.calibration, bytesDown };
  }

  /**
   * Sends the current global model to `ids` for evaluation on their test splits (and, with `calibration`,
   * the temperature-scaling sums over their validation splits) and waits for their answers.
   */
  private async collectEvaluations(round: number, ids: string[], calibration?: { betas: number[] }): Promise<{ collector: EvaluationCollector; bytesDown: number }> {
    const weightsBytes = encodeWeights({ manifest: this.options.model.manifest, arrays: this.globalWeights });
    const collector = new EvaluationCollector(round, ids, this.config.roundTimeoutMs);
    // The global model after round `round` (model adoption may have kept the previous weights: a new version all the same).
    const modelVersion = round;
    collector.modelVersion = modelVersion;
    this.evaluation = collector;
    let bytesDown = 0;
    await pacedFanOut(ids, (siteId) => {
      const site = this.sites.get(siteId);
      if (!site || site.link.closed) return collector.drop(siteId);
      bytesDown += this.sendTopology(siteId);
      const weights = this.weightsFor(site, modelVersion, weightsBytes);
      site.link.send('evaluate', {
        runId: this.config.runId,
        round,
        modelVersion,
        ...(weights ? { weights } : {}),
        ...(this.config.sitesKeepModel ? {} : { dropModel: true }),
        ...(calibration ? { calibration } : {}),
      });
      bytesDown += weights?.byteLength ?? 0;
    });
    await collector.done;
    this.evaluation = undefined;
    return { collector, bytesDown };
  }

  private async federatedEvaluate(round: number): Promise<{ summary: NonNullable<RoundRecord['federated']>; bytesDown: number }> {
    const { collector, bytesDown } = await this.collectEvaluations(round, this.evaluationSample(round));
    const sites = [...collector.results.values()].filter((s) => s.numExamples > 0).sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
    const weight = evaluationWeights(sites, this.config.exampleWeightCap);
    const total = sites.reduce((n, s) => n + weight.get(s.siteId)!, 0);
    const accuracy = total > 0 ? sites.reduce((n, s) => n + s.accuracy * weight.get(s.siteId)!, 0) / total : NaN;
    const worst = sites.reduce<(typeof sites)[number] | undefined>((w, s) => (!w || s.accuracy < w.accuracy ? s : w), undefined);
    const spread = siteAccuracySummary(sites);
    return {
      summary: { sites, accuracy, worstSite: worst ? { siteId: worst.siteId, accuracy: worst.accuracy } : undefined, p10: spread.p10 ?? undefined, mean: spread.mean ?? undefined },
      bytesDown,
    };
  }
}
