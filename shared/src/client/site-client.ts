import { yieldToEventLoop } from './yield-to-event-loop.ts';
import type { Sha256OfChunks } from '../audit/sha256-hex.ts';
import type * as tf from '@tensorflow/tfjs';
import { datasetSize, type Splits } from '../data/dataset.ts';
import { decodeWeights, encodeWeights, assertSameLayout } from '../codec/weights-codec.ts';
import { encodeUpdate, updateEncodingOf } from '../codec/update-codec.ts';
import { fetchModelWeights, type ModelFetch } from './fetch-model-weights.ts';
import type { ModelRef } from '../messages/model-ref.ts';
import { FedtuneError, toFedtuneError } from '../errors.ts';
import { evaluateModel, type EvaluationMetrics } from '../learning/evaluate-model.ts';
import { modelLogits } from '../robustness/calibration/model-logits.ts';
import { temperatureStats } from '../robustness/calibration/temperature-scaling.ts';
import type { TemperatureStats } from '../robustness/calibration/temperature-search.ts';
import { fitLocal, type FitProgress } from '../learning/fit-local.ts';
import { siteTrainConfig, type SiteAdversarialSettings } from './site-train-config.ts';
import { siteAdversarialTermsRefusal } from './site-adversarial-terms.ts';
import type { ClientToServer, ServerToClient } from '../messages/events.ts';
import { PROTOCOL_VERSION, type SecureAggKeys, type SecureAggShares, type SecureAggUnmask, type FitInstruction, type EvaluateInstruction, type ModelTopology, type RunComplete } from '../messages/schemas.ts';
import { modelFromTopology } from '../model/model-topology.ts';
import { activationsPerExample } from '../model/activations-per-example.ts';
import { modelInterfaceOf } from '../model/model-interface.ts';
import { fitDatasetToModel } from '../data/fit-data-to-model.ts';
import { tokenizeTextSplits, type TextSplits } from './text-site-data.ts';
import { modelManifest, readModelWeights, writeModelWeights } from '../model/model-weights.ts';
import type { MessageOf, ClientConnector, CoordinatorLink } from '../transport/transport.ts';
import { totalParameters, WEIGHTS_LIMITS, type WeightArrays, type WeightsManifest } from '../weights.ts';
import { ledgerTotalsWire } from '../policy/ledger-totals-wire.ts';
import { secAggPayloadBytes } from '../privacy/secagg-simulation.ts';
import type { SecAggPrimitives } from '../privacy/secagg-crypto.ts';
import type { PrivacyLedger } from '../policy/privacy-ledger.ts';
import { DEFAULT_SITE_POLICY, type SitePolicy } from '../policy/site-policy.ts';
import type { RunTerms } from '../messages/run-terms.ts';
import { SitePrivacyAccounting } from './site-privacy-accounting.ts';
import type { SiteReportInstruction, SiteReportResult } from '../messages/site-report-schemas.ts';
import { siteReportWork } from '../personalization/site-report-work.ts';
import { batchNormWeightIndices, withLocalWeights } from '../personalization/personalize-model.ts';
import { checkSecAggInstruction, SecAggParticipant, secAggInputOf, type SecAggSendPhase } from './secagg-participant.ts';
import { ModelInspectionGate } from './model-inspection-gate.ts';
import type { ModelInspectionPolicy } from '../policy/site-policy.ts';
import type { ModelFinding } from '../policy/inspect-model.ts';
import { distributedNoiseOf } from './distributed-noise.ts';
import { COUNTED_INSTRUCTIONS } from './instruction-budget.ts';
import { SiteTermsGuard } from './site-terms-guard.ts';
import { checkFederatedEvaluation } from '../policy/check-instruction.ts';
import type { Ed25519Verify } from '../policy/ed25519-verify.ts';
import { alignSiteData, classesRefusal, countsInRunOrder, type SiteClasses } from './align-site-classes.ts';
import { CLASSES_REFUSED_REASON, wireFailureReason } from './wire-reasons.ts';
import type { SignedRunTerms } from '../messages/run-terms.ts';
import type { TermsCheck } from '../policy/check-run-terms.ts';
import { clipText } from '../text/clip-text.ts';
import { sharedTicker } from './shared-ticker.ts';
import { isLazySiteData, trainExamplesOf, type LazySiteData } from './lazy-site-data.ts';
import { summaryToSend, type DataSummaryCounts } from '../data/site-data-summary.ts';
import { textAugmentedTrain } from './text-augmentation-round.ts';
import { checkTokenizedWith } from './tokenized-with.ts';

/** How long a site that refused waits for its refusal to go out before it closes the connection. */
const LEAVE_GRACE_MS = 250;

/**
 * Why an instruction failed, as the site's events and its siteFailure say it: one error's message, clipped. It
 * can quote what the coordinator sent (a layer's class name or name from its topology, megabytes long), and it
 * goes into the site's log and onto the wire (at most 2000 characters).
 */
function failureReason(e: FedtuneError): string {
  return clipText(e.message, 1900);
}

/** When a site runs its idle work (SiteClient options' `whileWaiting`): before it could connect, or after it joined and before its first instruction. */
export type IdlePhase = 'connecting' | 'joined';
/** Messages that leave a site idle: its idle work of the 'joined' phase goes on through them. */
const IDLE_MESSAGES: ReadonlySet<string> = new Set(['welcome', 'terms', 'rejected']);

/**
 * A site's first connection: a coordinator launched at the same time listens ~0.4–1 s later, and the backoff's
 * 250 → 500 ms steps made such a site join ~0.5 s after it could. Until it has connected once, a failed connect is
 * retried every 100 ms for 5 s (cheap: a refused connect costs the coordinator's host nothing), then the backoff.
 */
export const STARTUP_RETRY = Object.freeze({ retryMs: 100, windowMs: 5_000 });

/** What a site reports about itself while it works (for progress bars, logs and the browser page). */
export type SiteEvent =
  | { type: 'connected' }
  | { type: 'welcome'; runId: string }
  /** The run's terms arrived and this site's policy accepted them. */
  | { type: 'terms'; terms: SignedRunTerms }
  /** This site's policy refused the run's terms (round absent) or an instruction that departs from them: the site leaves the run. */
  | { type: 'refused-terms'; round?: number; reason: string }
  | { type: 'model'; parameters: number }
  /** The site's named labels were renumbered to the run's class names; `missing`: the run's classes it has no example of. */
  | { type: 'classes-aligned'; classNames: string[]; missing: string[] }
  | { type: 'fit-start'; round: number }
  | { type: 'fit-progress'; round: number; progress: FitProgress }
  | { type: 'fit-done'; round: number; loss: number; accuracy: number; numExamples: number; durationMs: number; bytesUp: number }
  | { type: 'evaluate-done'; round: number; metrics: EvaluationMetrics }
  | { type: 'site-report-done'; round: number; result: SiteReportResult }
  | { type: 'rejected'; round?: number; code: string; reason: string }
  | { type: 'failed'; round: number; code: string; reason: string }
  /** Model inspection found a trap construction and the policy says 'warn': the site trains anyway. */
  | { type: 'model-warning'; round: number; findings: ModelFinding[] }
  /** The privacy ledger after a round's spend was recorded (before the update was sent); null = unbounded. */
  | { type: 'privacy'; round: number; runEpsilon: number; totalEpsilon: number }
  | { type: 'complete'; complete: RunComplete }
  | { type: 'closed'; reason: string }
  | { type: 'reconnecting'; attempt: number; delayMs: number; reason: string }
  /** The first connection failed (the coordinator may still be starting): retried every `retryMs` for up to `windowMs`; emitted once. */
  | { type: 'waiting-for-coordinator'; retryMs: number; windowMs: number; reason: string }
  /** An update left this site: the exact bytes sent (encoded weights, or the masked vector under secure aggregation), for its own audit log. */
  | { type: 'update-sent'; runId: string; round: number; attempt?: number; message: 'fitResult' | 'secaggMasked'; bytes: Uint8Array; numExamples?: number; metrics?: Record<string, number> };

/** What an update hook may return instead of bare weights: the weights and an example count to claim (a lying site). */
export interface HookedUpdate {
  weights: WeightArrays;
  numExamples?: number;
}

/**
 * Transforms the weights a site is about to send (and, returning a HookedUpdate, the example count it
 * claims). Used by the simulation to play misbehaving sites; an honest site has none.
 */
export type UpdateHook = (
  weights: WeightArrays,
  context: { round: number; global: WeightArrays; siteId: string },
) => WeightArrays | HookedUpdate | Promise<WeightArrays | HookedUpdate>;

/**
 * Test and simulation hooks into secure aggregation. `input` sees the site's true (clipped, weighted)
 * input, which never leaves the site; `beforeSend` returning 'drop' makes the site close its connection
 * instead of sending that phase's message (a dropout), 'stall' makes it stay connected and send nothing in
 * that phase (a hung site: only the phase deadline ends the wait). An honest deployment has none.
 */
export interface SecAggProbe {
  input?: (info: { round: number; attempt: number; siteId: string; update: WeightArrays; weight: number }) => void;
  beforeSend?: (phase: SecAggSendPhase, info: { round: number; attempt: number; siteId: string }) => 'drop' | 'stall' | void;
}

export interface SiteClientOptions {
  siteId: string;
  token?: string;
  /**
   * The coordinator's base URL, for model bytes delivered over HTTP (modelDelivery 'http'; fetch-model-weights.ts),
   * when the connection does not name its own (a socket.io link does: the node of a cluster the site is connected to).
   */
  modelServer?: string;
  /** The fetch used for them (default: the platform's). */
  modelFetch?: ModelFetch;
  connector: ClientConnector;
  /**
   * The site's private data, already split. Only counts and metrics derived from it are ever sent. Lazy data
   * (a virtual site) is loaded for each instruction that needs it and released once it is answered.
   */
  data: Splits | LazySiteData;
  /** A text site's raw texts (then `data` is labelOnlySplits of them): tokenized with the vocabulary the model comes with (text-site-data.ts). */
  textData?: TextSplits;
  backend: string;
  runtime: 'node' | 'browser';
  onEvent?: (event: SiteEvent) => void;
  updateHook?: UpdateHook;
  /**
   * Reconnect after a dropped connection (default: no retries). Delay = min(maxDelayMs, baseDelayMs · 2^attempt).
   * With retries, a site that has not connected yet retries a failed connect every `startupRetryMs` for
   * `startupWindowMs` from its start (a coordinator launched with it may not be listening yet) without counting
   * those attempts; then the backoff (STARTUP_RETRY defaults).
   */
  reconnect?: { retries: number; baseDelayMs?: number; maxDelayMs?: number; startupRetryMs?: number; startupWindowMs?: number };
  /**
   * Work for the time a site waits with nothing to do, in two phases: `'connecting'` — its coordinator is not
   * listening yet (the start-up retries above): started at the first failed connect, aborted (`signal`) as soon as
   * a connect succeeds or the run ends, and the site waits for it to stop before it says hello; `'joined'` — once,
   * after its first welcome, until its first instruction (the model, a fit, an evaluation…) arrives: that
   * instruction waits for it to stop. Its errors are ignored. Node sites warm their training path with it
   * (client-node's trainingWarmUp): a site's first rounds otherwise train at a third of its later speed.
   */
  whileWaiting?: (signal: AbortSignal, phase: IdlePhase) => Promise<void>;
  /** Interval of heartbeats to the coordinator (default 5 s). */
  heartbeatMs?: number;
  secAggProbe?: SecAggProbe;
  /**
   * Simulation only: seed of this site's distributed-DP noise (with its id, the round and the attempt), so a
   * simulated run is reproducible. Never set it in a deployment: whoever knows it can remove the noise.
   */
  distributedNoiseSeed?: number;
  /**
   * Receives the site's personalised model after the final round (the model holds its weights during the
   * call; e.g. the Node site saves it with --personal-model DIR). The weights never leave the site.
   */
  onPersonalModel?: (model: tf.LayersModel, info: { runId: string; adopted: boolean }) => void | Promise<void>;
  /** This site's own adversarial-training settings, over the coordinator's (siteTrainConfig). */
  adversarial?: SiteAdversarialSettings;
  /** Trains the model for a fit instruction (default fitLocal; a Node site's data-parallel trainer has its signature). */
  fit?: typeof fitLocal;
  /** Model inspection before training (docs/site-policy.md, "Model inspection"); default: refuse trap constructions. */
  modelInspection?: ModelInspectionPolicy;
  /**
   * This site's persistent privacy ledger (docs/privacy.md#privacy-ledger): ε per run and in total across
   * restarts; every round's spend is recorded in it before the update leaves. Absent: an in-memory one.
   */
  privacyLedger?: PrivacyLedger;
  /** The ε limits of the site's policy, enforced against the ledger before every round and at join. */
  privacyPolicy?: SitePolicy['privacy'];
  /** What this site consents to (docs/site-policy.md); default DEFAULT_SITE_POLICY (no limits; the terms and every instruction are still checked). */
  policy?: SitePolicy;
  /** Further checks of the terms at join (the privacy ledger's ε budget, model inspection). */
  termsChecks?: TermsCheck[];
  /** How the site hashes model bytes (initial weights against the terms, the inspected layer): @noble/hashes when absent (browsers); Node sites pass nodeSha256OfChunks (the same digests). */
  sha256?: Sha256OfChunks;
  /** Secure aggregation's ChaCha20 and X25519: @noble's when absent (browsers); Node sites pass nodeSecAggPrimitives (OpenSSL's, the same bytes). */
  secAggPrimitives?: SecAggPrimitives;
  /** How the run's terms' signature is verified: @noble/curves when absent (browsers); Node sites pass nodeEd25519Verify. */
  verifyTermsSignature?: Ed25519Verify;
  /**
   * The data check's counts, sent once after joining: only when given (`--share-data-summary` or the policy's
   * data.shareSummary); feature names only when the policy's data.shareFeatureNames allows (site-data-summary.ts).
   */
  dataSummary?: DataSummaryCounts;
  /** false: this site trains on its own texts only, whatever the run's textAugmentation (`fedtune client --no-text-augment`). */
  textAugmentation?: boolean;
  /**
   * A site handed token ids already (`fedtune simulate --task spam`): the hash of the vocabulary they were made
   * with (vocabularyHashOf). The run's model must bring that vocabulary, else the site refuses to train on it
   * ('data', one line) — as a site on raw texts tokenizes with the vocabulary the terms pin.
   */
  tokenizedWith?: string;
  /**
   * Named labels: this site's class names (index → name, as its loader numbered them) and the file or folder
   * they came from. A run that carries class names renumbers them to its own (align-site-classes.ts); a label
   * the run does not name refuses the terms. Absent (integer labels): the labels are the class indices.
   */
  siteClasses?: SiteClasses;
}

export interface SiteOutcome {
  siteId: string;
  runId?: string;
  completed: boolean;
  complete?: RunComplete;
  roundsTrained: number;
  reason?: string;
}

/**
 * The learning side of a site, the same in Node and in the browser: joins a run, fine-tunes the global
 * model on local data when asked, evaluates it on the local test split, and sends back only weights,
 * counts and metrics. Instructions are handled one at a time, in arrival order.
 */
export class SiteClient {
  private link?: CoordinatorLink;
  private model?: tf.LayersModel;
  private manifest?: WeightsManifest;
  private runId?: string;
  private roundsTrained = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Instructions queued and not yet carried out (instruction-budget.ts bounds them). */
  private pendingInstructions = 0;
  private stopped = false;
  /** Why this site left the run by itself, when it did (its outcome's reason). */
  private leftBecause?: string;
  private rejectedHello = false;
  /** Whether the current connection was welcomed (a later drop then starts the backoff afresh). */
  private welcomed = false;
  /** The node answered the hello with `node_busy` (a cluster node at its share of sites): connect to the next one at once. */
  private sentOn = false;
  /** Nodes tried since the last welcome that sent this site on: the hello's `alternatives` count them down to 0. */
  private moves = 0;
  private status: 'idle' | 'training' | 'evaluating' = 'idle';
  /** The idle work running now (options.whileWaiting), and how to stop it. */
  private idle?: { controller: AbortController; done: Promise<void> };
  /** Whether the idle work of the 'joined' phase has had its turn (once per site, before its first instruction). */
  private idleAfterJoin = false;
  /** This site's part in the current secure-aggregation round attempt, if any. */
  private secAgg?: SecAggParticipant;
  /** Record-level DP-SGD and client-level DP spent on this site's data: the privacy ledger, checked and recorded every round. */
  private readonly privacyAccounting: SitePrivacyAccounting;
  /** The run's terms, once the site accepted them (acceptRunTerms): their client-level `dp` is accounted every round. */
  private runTerms?: RunTerms;
  /** The run this site sent its data summary to (sendDataSummary). */
  private dataSummarySentFor?: string;
  /** The data as the current model sees it (its number of classes), and why it does not fit, if it does not. Lazy data: only while an instruction uses it. */
  private data?: Splits;
  /** Fits splits to the current model (lazy data is fitted when loaded). */
  private fitToModel?: (splits: Splits) => Splits;
  /** The site's texts, renumbered to the run's class names when it carries them (what augmentation draws on). */
  private textData?: TextSplits;
  private dataError?: FedtuneError;
  /** This site's personalised weights (after a site report with personalisation): kept here, never sent. */
  private personal?: WeightArrays;
  /** FedBN: this site's own BatchNorm weights by position, kept from round to round (config.localBatchNorm). */
  private localBatchNorm?: Map<number, Float32Array>;
  /** The model's topology, kept so a model dropped between instructions (dropModel) can be rebuilt. */
  private topology?: ModelTopology;
  /** The global model version the model holds unchanged (after evaluating it), told to the coordinator. */
  private held?: { runId: string; version: number };
  private readonly inspection: ModelInspectionGate;
  /** Why the site's classes refuse the last terms checked (the local detail of CLASSES_REFUSED_REASON). */
  private classesDetail?: string;
  /** The site's consent: the terms it accepted and every instruction checked against them (site-terms-guard.ts). */
  readonly consent: SiteTermsGuard;

  constructor(private readonly options: SiteClientOptions) {
    this.data = isLazySiteData(options.data) ? undefined : options.data;
    // One policy drives them all (docs/site-policy.md): its model inspection and ε limits, unless given separately.
    const policy = options.policy;
    this.inspection = new ModelInspectionGate(options.modelInspection ?? policy?.model.inspection, options.sha256);
    this.privacyAccounting = new SitePrivacyAccounting(options.privacyLedger, options.privacyPolicy ?? policy?.privacy);
    // The ledger's budget is one more check of the terms at join: a site at its ε limit refuses the run, with the reason on both sides.
    // concat: an exactly sized array (a spread leaves spare capacity in every site).
    // A label the run does not name: the coordinator hears only that (CLASSES_REFUSED_REASON); which label, and the
    // file it was read from, stay in this site's own events.
    const classesCheck = (terms: RunTerms) => {
      this.classesDetail = classesRefusal(options.siteClasses, terms.classNames);
      return this.classesDetail === undefined ? undefined : CLASSES_REFUSED_REASON;
    };
    // The site's own --adv-* settings must apply to the run's training, or every round would fail on them.
    const adversarialCheck = (terms: RunTerms) => siteAdversarialTermsRefusal(terms, options.adversarial);
    this.consent = new SiteTermsGuard(policy, (options.termsChecks ?? []).concat((terms: RunTerms) => this.privacyAtJoin(terms), classesCheck, adversarialCheck), options.verifyTermsSignature, options.sha256);
    this.textData = options.textData;
  }

  /** Why the privacy ledger refuses the run's terms at join, if it does. */
  private privacyAtJoin(terms: RunTerms): string | undefined {
    try {
      this.privacyAccounting.checkTerms(terms, trainExamplesOf(this.options.data));
      return undefined;
    } catch (err) {
      return toFedtuneError(err).message;
    }
  }

  /** The run's terms this site accepted: the ledger then accounts their client-level DP (q = 1 per round contributed). */
  acceptRunTerms(terms: RunTerms): void {
    this.runTerms = terms;
  }

  private clientDp(runId: string): RunTerms['dp'] {
    return this.runTerms?.runId === runId ? this.runTerms.dp : undefined;
  }

  /**
   * Tells the site's listener (options.onEvent). Its errors are ignored: a log line or an audit write that throws
   * must not stop the site answering its coordinator, nor keep its run from ending (an error escaping here
   * would leave the message queue rejected: every later instruction, and the close, skipped).
   */
  private emit(event: SiteEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // The listener's own failure.
    }
  }

  /**
   * Connects, joins and works until the run completes. If the connection drops before that and
   * `reconnect.retries` allows, it reconnects with exponential backoff and joins again.
   */
  async run(): Promise<SiteOutcome> {
    const retries = this.options.reconnect?.retries ?? 0;
    const startupRetryMs = this.options.reconnect?.startupRetryMs ?? STARTUP_RETRY.retryMs;
    const startupWindowMs = this.options.reconnect?.startupWindowMs ?? STARTUP_RETRY.windowMs;
    const startupEnds = performance.now() + startupWindowMs;
    let connectedOnce = false;
    let waitingSaid = false;
    let failures = 0;
    let last: Omit<SiteOutcome, 'siteId' | 'roundsTrained' | 'runId'> = { completed: false, reason: 'not connected' };
    try {
      for (;;) {
        if (this.stopped) return this.outcome({ completed: false, reason: 'stopped' });
        let link: CoordinatorLink | undefined;
        try {
          link = await this.options.connector.connect();
          connectedOnce = true;
        } catch (err) {
          last = { completed: false, reason: toFedtuneError(err).message };
          // Not connected yet, within the start-up window: the coordinator may still be starting — retry soon, uncounted.
          if (retries > 0 && !connectedOnce && !this.stopped && performance.now() + startupRetryMs < startupEnds) {
            if (!waitingSaid) {
              this.emit({ type: 'waiting-for-coordinator', retryMs: startupRetryMs, windowMs: startupWindowMs, reason: last.reason ?? '' });
              this.startIdleWork('connecting');
            }
            waitingSaid = true;
            await new Promise((r) => setTimeout(r, startupRetryMs));
            continue;
          }
          if (failures >= retries) {
            if (retries === 0) throw err;
            return this.outcome(last);
          }
        }
        if (link) {
          // The idle work (whileWaiting) stops before the site says hello.
          await this.endIdleWork();
          last = await this.session(link);
          if (last.completed || this.stopped) return this.outcome(this.leftBecause !== undefined ? { completed: false, reason: this.leftBecause } : last);
          if (this.rejectedHello) return this.outcome(last);
          if (this.sentOn) {
            // Not a failure: the connector tries its next node first (failover-connector.ts), without a delay.
            this.sentOn = false;
            this.moves++;
            this.emit({ type: 'reconnecting', attempt: failures, delayMs: 0, reason: last.reason ?? 'node_busy' });
            continue;
          }
          // A connection that was welcomed worked: a drop after it is a new incident, not one more failure.
          if (this.welcomed) failures = 0;
          if (failures >= retries) return this.outcome(last);
        }
        const delayMs = Math.min(this.options.reconnect?.maxDelayMs ?? 10_000, (this.options.reconnect?.baseDelayMs ?? 250) * 2 ** failures);
        failures++;
        this.emit({ type: 'reconnecting', attempt: failures, delayMs, reason: last.reason ?? '' });
        await new Promise((r) => setTimeout(r, delayMs));
      }
    } finally {
      await this.endIdleWork();
      this.dispose();
    }
  }

  private startIdleWork(phase: IdlePhase): void {
    if (this.idle || !this.options.whileWaiting || this.stopped) return;
    const controller = new AbortController();
    this.idle = { controller, done: this.options.whileWaiting(controller.signal, phase).catch(() => {}) };
  }

  /** Stops the idle work, if any runs, and resolves once it has stopped. */
  private async endIdleWork(): Promise<void> {
    const idle = this.idle;
    if (!idle) return;
    idle.controller.abort();
    await idle.done;
    if (this.idle === idle) this.idle = undefined;
  }

  private outcome(o: Omit<SiteOutcome, 'siteId' | 'roundsTrained' | 'runId'>): SiteOutcome {
    const refused = this.consent.breach !== undefined && !o.completed ? { reason: `policy_refused: ${this.consent.breach}` } : {};
    return { siteId: this.options.siteId, runId: this.runId, roundsTrained: this.roundsTrained, ...o, ...refused };
  }

  /** One connection: hello, then instructions until 'complete' or the connection closes. */
  private session(link: CoordinatorLink): Promise<Omit<SiteOutcome, 'siteId' | 'roundsTrained' | 'runId'>> {
    this.link = link;
    this.welcomed = false;
    this.emit({ type: 'connected' });
    // Each node that sent this site on since its last welcome is one alternative fewer: the last one tried must take it.
    const alternatives = Math.max(0, Math.min(64, (this.options.connector.alternatives ?? 0) - this.moves));
    return new Promise((resolve) => {
      let settled = false;
      // One timer for every site of the process (shared-ticker.ts), not one per site.
      const stopHeartbeat = sharedTicker(this.options.heartbeatMs ?? 5_000).add(() => {
        if (!link.closed) link.send('heartbeat', { siteId: this.options.siteId, status: this.status });
      });
      const finish = (outcome: Omit<SiteOutcome, 'siteId' | 'roundsTrained' | 'runId'>) => {
        if (settled) return;
        settled = true;
        stopHeartbeat();
        void this.queue.then(() => resolve(outcome));
      };
      link.onMessage((message) => {
        if (message.event === 'complete') {
          this.queue = this.queue.then(() => {
            this.emit({ type: 'complete', complete: message.payload });
            finish({ completed: true, complete: message.payload });
            link.close();
          });
          return;
        }
        // A refused hello ends the site, except 'site_in_use': its own old connection still holds the name
        // (after a network blip) until that closes or goes silent, so it retries with backoff.
        if (message.event === 'rejected' && message.payload.code === 'unauthorized' && !this.runId) this.rejectedHello = true;
        // Only when this hello offered alternatives: a node that sends on a site with none left is refusing it (backoff as any drop).
        if (message.event === 'rejected' && message.payload.code === 'node_busy' && !this.welcomed && alternatives > 0) this.sentOn = true;
        // An instruction ends the idle work of the 'joined' phase (aborted now, handled once it has stopped).
        const instruction = !IDLE_MESSAGES.has(message.event);
        // Counted as it arrives, not when its turn comes: a flood, or the same work asked again and again, is refused
        // before anything of it is queued (instruction-budget.ts); the site then leaves, as on any breach of its terms.
        const counted = COUNTED_INSTRUCTIONS.has(message.event);
        if (counted && this.consent.breach === undefined) {
          const over = this.consent.countArrival(message, this.pendingInstructions);
          if (over !== undefined) {
            this.refuseInstruction(message, over);
            return;
          }
        }
        if (instruction) this.idle?.controller.abort();
        if (counted) this.pendingInstructions++;
        this.queue = this.queue.then(async () => {
          if (instruction) await this.endIdleWork();
          return this.handle(message);
        }).catch((err) => {
          this.emit({ type: 'rejected', code: toFedtuneError(err).code, reason: failureReason(toFedtuneError(err)) });
        }).finally(() => {
          if (counted) this.pendingInstructions--;
        });
      });
      link.onInvalid((error) => this.emit({ type: 'rejected', code: error.code, reason: `coordinator sent an invalid message: ${error.message}` }));
      link.onClose((reason) => {
        // Queued, so a 'complete' that arrived just before the close is handled first.
        this.queue = this.queue.then(() => {
          this.emit({ type: 'closed', reason });
          finish({ completed: false, reason });
        });
      });
      link.send('hello', {
        protocol: PROTOCOL_VERSION,
        siteId: this.options.siteId,
        token: this.options.token,
        capabilities: { backend: this.options.backend, runtime: this.options.runtime, numExamples: trainExamplesOf(this.options.data), ...(alternatives > 0 ? { alternatives } : {}) },
      });
    });
  }

  /** The personalised weights this site keeps (undefined before a site report with personalisation). */
  get personalWeights(): WeightArrays | undefined {
    return this.personal;
  }

  /** Leaves the run at once (no reconnect). */
  stop(): void {
    this.stopped = true;
    this.link?.close();
  }

  private async handle(message: MessageOf<ServerToClient>): Promise<void> {
    if (this.consent.breach !== undefined) return; // this site has left the run: nothing more is carried out
    const breach = this.consent.checkInstruction(message);
    if (breach !== undefined) return this.refuseInstruction(message, breach);
    switch (message.event) {
      case 'terms':
        return this.onTerms(message.payload);
      case 'welcome':
        this.welcomed = true;
        this.moves = 0;
        this.runId = message.payload.runId;
        this.emit({ type: 'welcome', runId: message.payload.runId });
        if (!this.idleAfterJoin) {
          this.idleAfterJoin = true;
          this.startIdleWork('joined');
        }
        return;
      case 'model': {
        const refusal = await this.onModel(message.payload);
        return refusal === undefined ? undefined : this.refuseInstruction(message, refusal);
      }
      case 'fit':
        await this.onFit(message.payload);
        return this.leaveIfDataDoesNotFit();
      case 'evaluate':
        await this.onEvaluate(message.payload);
        return this.leaveIfDataDoesNotFit();
      case 'siteReport':
        await this.onSiteReport(message.payload);
        return this.leaveIfDataDoesNotFit();
      case 'secaggKeys':
      case 'secaggShares':
      case 'secaggUnmask':
        return this.onSecAgg(message.event, message.payload);
      case 'rejected':
        this.emit({ type: 'rejected', round: message.payload.round, code: message.payload.code, reason: message.payload.reason });
        return;
      case 'complete':
        return;
    }
  }

  /**
   * This site's data does not fit the run's model (found when the model arrived): the instruction has been answered
   * with the reason, and the site leaves the run for good — the model is the run's for every round, so it never
   * could train — rather than stay joined, be counted and sampled, and fail every attempt of every round.
   */
  private leaveIfDataDoesNotFit(): void {
    if (!this.dataError || this.stopped) return;
    this.leftBecause = `left the run: this site's data does not fit the run's model (${failureReason(this.dataError)})`;
    this.leaveAfterLastMessage();
  }

  /** The run's terms: accepted (the site counts as joined) or refused with the reason (the site leaves, no reconnect). */
  private onTerms(signed: SignedRunTerms): void {
    const decision = this.consent.onTerms(signed, this.runId);
    const runId = this.runId ?? signed.terms.runId;
    if (decision.accept) {
      // The coordinator may now send messages as large as the run's model needs (a pre-terms limit until now).
      this.link!.allowMessagesForModel?.(this.consent.terms!.model.parameters);
      this.link!.send('acceptTerms', { runId, siteId: this.options.siteId, hash: decision.hash });
      this.acceptRunTerms(this.consent.terms!);
      this.emit({ type: 'terms', terms: signed });
      this.sendDataSummary(runId);
      return;
    }
    const reason = clipText(decision.reason, 1900);
    this.link!.send('refuseTerms', { runId, siteId: this.options.siteId, code: 'policy_refused', reason });
    this.emit({ type: 'refused-terms', reason: decision.reason === CLASSES_REFUSED_REASON && this.classesDetail ? clipText(this.classesDetail, 1900) : reason });
    this.leaveAfterLastMessage();
  }

  /** The data summary, once per run (not again after a reconnect), only when the site agreed to share it. */
  private sendDataSummary(runId: string): void {
    const given = this.options.dataSummary;
    if (!given || this.dataSummarySentFor === runId) return;
    // Per-class counts in the run's class order when it names its classes (the terms were accepted: every site class is one of them).
    const counts = { ...given, labelCounts: countsInRunOrder(given.labelCounts, this.options.siteClasses, this.runTerms?.classNames) };
    this.dataSummarySentFor = runId;
    this.link!.send('dataSummary', summaryToSend(counts, { runId, siteId: this.options.siteId }, this.options.policy?.data?.shareFeatureNames ?? false));
  }

  /** An instruction departs from the accepted terms: refused (the coordinator's report names it) and the site leaves the run for good. */
  private refuseInstruction(message: MessageOf<ServerToClient>, breach: string): void {
    const payload = message.payload as { runId?: string; round?: number };
    const round = typeof payload.round === 'number' ? payload.round : 0;
    const reason = clipText(`refused "${message.event}": ${breach}`, 1900);
    this.emit({ type: 'refused-terms', round, reason });
    this.link!.send('siteFailure', { runId: this.runId ?? payload.runId ?? 'unknown', round, siteId: this.options.siteId, code: 'policy_refused', reason });
    this.leaveAfterLastMessage();
  }

  /**
   * Leaves the run for good (no reconnect) once the last message (the refusal) is on its way: closing in the
   * same turn can drop it, so the link closes a moment later (the coordinator may close it first).
   */
  private leaveAfterLastMessage(): void {
    this.stopped = true;
    const link = this.link!;
    setTimeout(() => link.close(), LEAVE_GRACE_MS);
  }

  /** Builds the coordinator's model; returns why this site's policy refuses it, if it does (the model is then dropped). */
  private async onModel(payload: ModelTopology): Promise<string | undefined> {
    this.model?.dispose();
    this.model = undefined;
    this.held = undefined;
    this.topology = payload;
    this.dataError = undefined;
    // The topology is the coordinator's: weights past the manifest's total are refused before they are allocated.
    const model = await modelFromTopology(payload.topology, { maxParameters: totalParameters(payload.manifest) });
    const manifest = modelManifest(model);
    const shapesMatch = manifest.length === payload.manifest.length && manifest.every((s, i) => s.shape.join(',') === payload.manifest[i].shape.join(','));
    if (!shapesMatch) {
      model.dispose();
      throw new FedtuneError('shape_mismatch', 'the model built from the topology does not match the manifest');
    }
    // A few weights can make gigabytes of activations (an UpSampling2D of size 1000): refused before any training.
    const activations = activationsPerExample(model);
    const maxActivations = (this.options.policy ?? DEFAULT_SITE_POLICY).model.maxActivationsPerExample;
    if (!(activations <= maxActivations)) {
      model.dispose();
      const count = Number.isFinite(activations) ? `${activations} values per example` : 'values of no fixed number per example (a layer\'s output has a dimension of no fixed size)';
      return `the model's layers output ${count}, more than the policy's model.maxActivationsPerExample ${maxActivations}`;
    }
    this.model = model;
    this.manifest = manifest;
    // The model decides the number of classes; data that does not fit it is refused before any training,
    // with exactly what does not fit, at every instruction (so the coordinator's report names the reason).
    try {
      const io = modelInterfaceOf(model);
      const name = `${this.options.siteId}'s data`;
      checkTokenizedWith(this.options.tokenizedWith, payload.text, name);
      this.fitToModel = ({ train, validation, test }) => ({ train: fitDatasetToModel(train, io, name), validation: fitDatasetToModel(validation, io, name), test: fitDatasetToModel(test, io, name) });
      if (!isLazySiteData(this.options.data)) {
        // Named labels are renumbered by the run's class names, from the site's own data every time a model arrives.
        const runClasses = payload.classNames ?? this.runTerms?.classNames;
        let base: Splits = this.options.data;
        this.textData = this.options.textData;
        if (this.options.siteClasses && runClasses) {
          const aligned = alignSiteData(this.options.data, this.options.textData, this.options.siteClasses, runClasses);
          base = aligned.data;
          this.textData = aligned.textData;
          this.emit({ type: 'classes-aligned', classNames: [...runClasses], missing: aligned.missing });
        }
        this.data = this.fitToModel(this.textData ? tokenizeTextSplits(this.textData, payload.text, name) : base);
      }
    } catch (err) {
      this.dataError = toFedtuneError(err, 'data');
      this.emit({ type: 'failed', round: 0, code: this.dataError.code, reason: failureReason(this.dataError) });
    }
    this.emit({ type: 'model', parameters: manifest.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0) });
  }

  /** The site's splits, fitted to the model (its number of classes); throws why the data does not fit. */
  private fittedData(): Splits {
    if (this.dataError) throw this.dataError;
    if (!this.data && isLazySiteData(this.options.data) && this.fitToModel) {
      const lazy = this.options.data;
      try {
        this.data = this.fitToModel(lazy.load());
      } catch (err) {
        lazy.release();
        throw toFedtuneError(err, 'data');
      }
    }
    if (!this.data) throw new FedtuneError('config', 'received an instruction before the model topology', { shareable: true });
    return this.data;
  }

  /** Lazy data: the instruction is answered, the data goes (loaded again for the next one). */
  private releaseLazyData(): void {
    if (!isLazySiteData(this.options.data) || !this.data) return;
    this.data = undefined;
    this.options.data.release();
  }

  private loadGlobal(bytes: Uint8Array): WeightArrays {
    if (!this.model || !this.manifest) throw new FedtuneError('config', 'received weights before the model topology', { shareable: true });
    this.held = undefined;
    const weights = decodeWeights(bytes);
    assertSameLayout(this.manifest, weights, 'global model');
    writeModelWeights(this.model, weights.arrays);
    return weights.arrays;
  }

  /**
   * The global model of an instruction, loaded into the model (rebuilt from the kept topology if it was
   * dropped): its weights when they came with it, else the version this site holds — an instruction
   * without weights for a version it does not hold is refused ('not_found'), and the coordinator sends them again.
   */
  private async instructionGlobal(payload: { runId: string; modelVersion: number; weights?: Uint8Array; modelRef?: ModelRef }): Promise<WeightArrays> {
    if (!this.model && this.topology && this.manifest) this.model = await modelFromTopology(this.topology.topology);
    if (payload.weights) return this.loadGlobal(payload.weights);
    if (payload.modelRef) {
      // The coordinator (cluster node) this site is connected to serves the model; modelServer when the link does not say.
      const server = this.link?.serverUrl ?? this.options.modelServer;
      if (!server) throw new FedtuneError('config', 'the instruction sends the model over HTTP, but this site has no coordinator URL to fetch it from', { shareable: true });
      // Float32 weights of this site's model and the codec's largest header: a reference to more is refused before anything is fetched.
      if (this.manifest) {
        const parameters = totalParameters(this.manifest);
        const most = 4 * parameters + WEIGHTS_LIMITS.maxHeaderBytes + 4096;
        if (payload.modelRef.bytes > most) throw new FedtuneError('model_integrity', `the instruction references ${payload.modelRef.bytes} bytes of weights, more than the ${most} this site's model of ${parameters} parameters can take: refused before fetching`);
      }
      return this.loadGlobal(await fetchModelWeights(server, payload.modelRef, { siteId: this.options.siteId, token: this.options.token }, this.options.modelFetch));
    }
    const held = this.held;
    if (!this.model || !held || held.runId !== payload.runId || held.version !== payload.modelVersion) {
      throw new FedtuneError('not_found', `the instruction carries no weights and this site does not hold model version ${payload.modelVersion}`, { shareable: true });
    }
    return readModelWeights(this.model).arrays;
  }

  /** Cross-device: once an instruction with dropModel is answered, the model goes (its topology stays, to rebuild it). */
  private dropModelIfAsked(payload: { dropModel?: boolean }): void {
    if (!payload.dropModel) return;
    this.held = undefined;
    this.model?.dispose();
    this.model = undefined;
  }

  private async onFit(payload: FitInstruction): Promise<void> {
    const started = Date.now();
    const { round } = payload;
    this.emit({ type: 'fit-start', round });
    this.status = 'training';
    try {
      const global = await this.instructionGlobal(payload);
      // Training changes the model: it holds no global version once it starts.
      this.held = undefined;
      // A secure-aggregation instruction is checked against this site's own model before any work for it.
      if (payload.secureAggregation) {
        const parameterCount = global.reduce((n, a) => n + a.length, 0);
        checkSecAggInstruction(payload.secureAggregation, { siteId: this.options.siteId, round, parameterCount });
      }
      const data = this.fittedData();
      // A turn of the event loop first: sites sharing a process (a simulation) inspect and prepare one per turn,
      // not all in the one turn their instructions arrived in, so the process keeps answering meanwhile.
      await yieldToEventLoop();
      // Model inspection on the global weights, before any training ('model_refused' goes back as a siteFailure).
      const findings = this.inspection.check(this.model!, data.train, { runId: payload.runId, modelVersion: payload.modelVersion, batchSize: payload.config.batchSize });
      if (findings.length > 0) this.emit({ type: 'model-warning', round, findings });
      const trainConfig = siteTrainConfig(this.consent.maxExamples !== undefined ? { ...payload.config, maxExamples: this.consent.maxExamples } : payload.config, this.options.adversarial, round);
      // The privacy budget: refused before any training when this round's projected ε exceeds a limit.
      this.privacyAccounting.checkRound(payload.runId, round, trainConfig, datasetSize(data.train), this.clientDp(payload.runId));
      // FedBN: train from the global model with this site's own BatchNorm layers (none before its first round).
      if (payload.config.localBatchNorm && this.localBatchNorm) writeModelWeights(this.model!, withLocalWeights(global, this.localBatchNorm));
      // Text augmentation (the run's, unless this site opts out): this round's perturbed copies beside its texts; its claimed count stays its own.
      const augmented = textAugmentedTrain({ config: trainConfig, textData: this.textData, text: this.topology?.text, siteId: this.options.siteId, model: modelInterfaceOf(this.model!), optOut: this.options.textAugmentation === false });
      const trained = await (this.options.fit ?? fitLocal)(
        this.model!,
        augmented ?? data.train,
        trainConfig,
        (progress) => this.emit({ type: 'fit-progress', round, progress }),
        { validation: data.validation },
      );
      const metrics = augmented ? { ...trained, numExamples: datasetSize(data.train) } : trained;
      // Write-ahead: the spend is in the ledger (durably) before the update leaves this site.
      const { privacy, ledger } = await this.privacyAccounting.recordRound(payload.runId, round, metrics.dpSgd, payload.config.dpSgd?.delta, this.clientDp(payload.runId));
      if (ledger) this.emit({ type: 'privacy', round, ...ledger });
      const local = readModelWeights(this.model!);
      if (payload.config.localBatchNorm) this.localBatchNorm = new Map(batchNormWeightIndices(this.model!).map((i) => [i, local.arrays[i]]));
      const hooked = this.options.updateHook ? await this.options.updateHook(local.arrays, { round, global, siteId: this.options.siteId }) : local.arrays;
      const arrays = Array.isArray(hooked) ? hooked : hooked.weights;
      const claimed = Array.isArray(hooked) ? metrics.numExamples : (hooked.numExamples ?? metrics.numExamples);
      if (payload.secureAggregation) {
        // Secure aggregation: the update stays here; the site joins the masking protocol instead.
        const instruction = payload.secureAggregation;
        const input = secAggInputOf(arrays, global, claimed, instruction);
        this.options.secAggProbe?.input?.({ round, attempt: instruction.attempt, siteId: this.options.siteId, ...input });
        const noise = distributedNoiseOf(instruction, { siteId: this.options.siteId, round, simulationSeed: this.options.distributedNoiseSeed });
        this.secAgg = new SecAggParticipant(payload.runId, round, instruction, this.options.siteId, { ...input, ...(noise ? { noise } : {}) }, this.options.secAggPrimitives);
        const durationMs = Date.now() - started;
        const advert = this.secAgg.advertise({ numExamples: claimed, metrics: { loss: metrics.loss, accuracy: metrics.accuracy, ...(privacy ? { privacy } : {}) }, durationMs });
        if (!this.secAggSend('advertise', 'secaggAdvertise', advert)) return;
        this.roundsTrained++;
        this.emit({ type: 'fit-done', round, loss: metrics.loss, accuracy: metrics.accuracy, numExamples: metrics.numExamples, durationMs, bytesUp: secAggPayloadBytes(advert) });
        return;
      }
      // float32: the weights; fp16/int8: the delta from the global model it trained from, compressed (update-codec.ts).
      const bytes = encodeUpdate({ manifest: local.manifest, arrays }, global, updateEncodingOf(payload.config), payload.config.seed);
      const durationMs = Date.now() - started;
      this.link!.send('fitResult', {
        runId: payload.runId,
        round,
        siteId: this.options.siteId,
        weights: bytes,
        numExamples: claimed,
        metrics: { loss: metrics.loss, accuracy: metrics.accuracy, ...(privacy ? { privacy } : {}), ...(ledger ? { ledger: ledgerTotalsWire(ledger) } : {}) },
        durationMs,
      });
      this.roundsTrained++;
      this.emit({ type: 'update-sent', runId: payload.runId, round, message: 'fitResult', bytes, numExamples: claimed, metrics: { loss: metrics.loss, accuracy: metrics.accuracy, ...(privacy ? { epsilon: privacy.epsilon } : {}) } });
      this.emit({ type: 'fit-done', round, loss: metrics.loss, accuracy: metrics.accuracy, numExamples: metrics.numExamples, durationMs, bytesUp: bytes.byteLength });
    } catch (err) {
      const e = toFedtuneError(err);
      this.emit({ type: 'failed', round, code: e.code, reason: failureReason(e) });
      this.link!.send('siteFailure', { runId: payload.runId, round, siteId: this.options.siteId, code: e.code, reason: wireFailureReason(e) });
    } finally {
      this.status = 'idle';
      this.dropModelIfAsked(payload);
      this.releaseLazyData();
    }
  }

  /** Sends one secure-aggregation message, unless a probe drops the site here (then closes the link). */
  private secAggSend<K extends 'secaggAdvertise' | 'secaggShareKeys' | 'secaggMasked' | 'secaggUnmaskResponse'>(
    phase: SecAggSendPhase,
    event: K,
    payload: ClientToServer[K],
  ): boolean {
    const p = this.secAgg!;
    const probed = this.options.secAggProbe?.beforeSend?.(phase, { round: p.round, attempt: p.attempt, siteId: this.options.siteId });
    if (probed === 'stall') return false;
    if (probed === 'drop') {
      this.secAgg = undefined;
      this.link?.close();
      return false;
    }
    this.link!.send(event, payload);
    return true;
  }

  private onSecAgg(event: 'secaggKeys' | 'secaggShares' | 'secaggUnmask', payload: SecureAggKeys | SecureAggShares | SecureAggUnmask): void {
    const p = this.secAgg;
    if (!p || !p.matches(payload)) return; // a late message of an attempt this site is no longer in
    try {
      if (event === 'secaggKeys') this.secAggSend('share-keys', 'secaggShareKeys', p.shareKeys(payload as SecureAggKeys));
      else if (event === 'secaggShares') {
        const masked = p.maskInput(payload as SecureAggShares);
        if (this.secAggSend('masked-input', 'secaggMasked', masked)) this.emit({ type: 'update-sent', runId: p.runId, round: p.round, attempt: p.attempt, message: 'secaggMasked', bytes: masked.masked });
      }
      else {
        this.secAggSend('unmask', 'secaggUnmaskResponse', p.unmask(payload as SecureAggUnmask));
        this.secAgg = undefined;
      }
    } catch (err) {
      // The protocol refused (quorum lost, inconsistent message): stop taking part in this attempt.
      const e = toFedtuneError(err);
      this.secAgg = undefined;
      this.emit({ type: 'failed', round: p.round, code: e.code, reason: failureReason(e) });
      this.link?.send('siteFailure', { runId: p.runId, round: p.round, siteId: this.options.siteId, code: e.code, reason: wireFailureReason(e) });
    }
  }

  private async onEvaluate(payload: EvaluateInstruction): Promise<void> {
    try {
      await this.instructionGlobal(payload);
      // A calibration question is within the terms in any round; the test split is evaluated only for a round whose evaluation they include.
      const terms = this.consent.terms;
      const evaluated = !payload.calibration || (terms !== undefined && checkFederatedEvaluation(payload.round, terms) === undefined);
      const metrics = evaluated ? evaluateModel(this.model!, this.fittedData().test) : { loss: 0, accuracy: 0, numExamples: 0 };
      // Evaluating leaves the model as it came: the site holds this version (unless it is to drop the model).
      this.held = payload.dropModel ? undefined : { runId: payload.runId, version: payload.modelVersion };
      this.link!.send('evaluateResult', {
        runId: payload.runId,
        round: payload.round,
        siteId: this.options.siteId,
        numExamples: metrics.numExamples,
        metrics: { loss: metrics.loss, accuracy: metrics.accuracy },
        ...(payload.calibration ? { calibration: this.calibrationSums(payload.calibration.betas) } : {}),
        ...(this.held ? { heldModelVersion: this.held.version } : {}),
      });
      if (evaluated) this.emit({ type: 'evaluate-done', round: payload.round, metrics });
    } catch (err) {
      const e = toFedtuneError(err);
      this.held = undefined;
      this.emit({ type: 'failed', round: payload.round, code: e.code, reason: failureReason(e) });
      this.link!.send('siteFailure', { runId: payload.runId, round: payload.round, siteId: this.options.siteId, code: e.code, reason: wireFailureReason(e) });
    } finally {
      this.dropModelIfAsked(payload);
      this.releaseLazyData();
    }
  }

  /** The per-site report after the final round: aggregates go back; the personalised weights stay here. */
  private async onSiteReport(payload: SiteReportInstruction): Promise<void> {
    const started = Date.now();
    this.status = 'evaluating';
    try {
      if (!this.model && this.topology) this.model = await modelFromTopology(this.topology.topology);
      const global = this.loadGlobal(payload.weights);
      let pretrained: WeightArrays | undefined;
      if (payload.pretrained) {
        const decoded = decodeWeights(payload.pretrained);
        assertSameLayout(this.manifest!, decoded, 'pretrained model');
        pretrained = decoded.arrays;
      }
      const personalStart = payload.personalization?.mode === 'fedbn' && this.localBatchNorm ? withLocalWeights(global, this.localBatchNorm) : undefined;
      const work = await siteReportWork(this.model!, this.fittedData(), payload, { global, pretrained, personalStart });
      if (work.personal) {
        this.personal = work.personal;
        await this.options.onPersonalModel?.(this.model!, { runId: payload.runId, adopted: work.adopted ?? true });
      }
      const result: SiteReportResult = {
        runId: payload.runId,
        round: payload.round,
        siteId: this.options.siteId,
        numExamples: work.numExamples,
        arms: work.arms,
        ...(work.adopted !== undefined ? { adopted: work.adopted } : {}),
        ...(work.chosen ? { chosen: work.chosen } : {}),
        ...(work.candidates ? { candidates: work.candidates } : {}),
        ...(work.comparisons ? { comparisons: work.comparisons } : {}),
        durationMs: Math.min(86_400_000, Date.now() - started),
      };
      this.link!.send('siteReportResult', result);
      this.emit({ type: 'site-report-done', round: payload.round, result });
    } catch (err) {
      const e = toFedtuneError(err);
      this.emit({ type: 'failed', round: payload.round, code: e.code, reason: failureReason(e) });
      this.link!.send('siteFailure', { runId: payload.runId, round: payload.round, siteId: this.options.siteId, code: e.code, reason: wireFailureReason(e) });
    } finally {
      this.status = 'idle';
      this.releaseLazyData();
    }
  }

  /** Federated temperature scaling: only the sums over the validation split at the asked inverse temperatures leave the site. */
  private calibrationSums(betas: number[]): { betas: number[]; count: number; stats: TemperatureStats[] } {
    const validation = this.fittedData().validation;
    const stats = temperatureStats(modelLogits(this.model!, validation), validation.y, betas);
    return { betas, count: validation.y.length, stats };
  }

  private dispose(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}
