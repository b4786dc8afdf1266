import {
  FedtuneError,
  deriveSeed,
  encodeWeights,
  getStrategy,
  PROTOCOL_VERSION,
  REPORT_SCHEMA_VERSION,
  SeededRandom,
  ChaChaRandom,
  RdpAccountant,
  shouldEvaluateRobustness,
  siteAccuracySummary,
  totalParameters,
  type ClientToServer,
  type Hello,
  type MessageOf,
  type RoundRecord,
  type RunReport,
  type ServerTransport,
  type SiteLink,
  type WeightArrays,
} from '@fedtune/shared';
import { aggregateDp } from './dp-aggregation.ts';
import { EvaluationCollector } from './evaluation-collector.ts';
import type { GlobalModel } from './global-model.ts';
import { RoundCollector } from './round-collector.ts';
import type { RunConfig } from './run-config.ts';
import { SiteRegistry } from './site-registry.ts';
import { validateFitResult } from './validate-fit-result.ts';

export type EngineEvent =
  | { type: 'site-joined'; siteId: string; backend: string; runtime: string; numExamples: number }
  | { type: 'site-left'; siteId: string; reason: string }
  | { type: 'waiting'; joined: number; needed: number }
  | { type: 'pretrained'; accuracy: number; loss: number }
  | { type: 'round-start'; round: number; attempt: number; selected: string[] }
  | { type: 'result'; round: number; siteId: string; accepted: boolean; code?: string; reason?: string }
  | { type: 'round-end'; record: RoundRecord }
  | { type: 'round-retry'; round: number; attempt: number; reason: string }
  | { type: 'robustness-start'; round: number }
  | { type: 'complete'; report: RunReport };

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
  /**
   * Decides whether a hello may join (site tokens: coordinator/src/access). Default: everyone. A refusal
   * may carry the code and reason sent to the site.
   */
  authorize?: (hello: Hello, link: SiteLink) => HelloVerdict;
}

/** What `authorize` decides: true/false, or a refusal with its code (default 'unauthorized') and reason. */
export type HelloVerdict = boolean | { ok: true } | { ok: false; code?: 'unauthorized' | 'rate_limited'; reason: string };

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
  private readonly config: RunConfig;
  private readonly strategy;
  private strategyState: unknown;
  private globalWeights: WeightArrays;
  private collector?: RoundCollector;
  private evaluation?: EvaluationCollector;
  private joinWaiters: Array<() => void> = [];
  private stopped = false;
  private accountant?: RdpAccountant;
  private dpClip = 0;
  readonly report: RunReport;

  constructor(private readonly options: RoundEngineOptions) {
    this.config = options.config;
    this.strategy = getStrategy(this.config.strategy);
    this.strategyState = this.strategy.initialState(this.config.strategyOptions);
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
    if (this.config.dp) {
      if (this.strategy.name !== 'fedavg') {
        throw new FedtuneError('config', `differential privacy runs DP-FedAvg; it cannot be combined with strategy "${this.strategy.name}"`);
      }
      this.accountant = new RdpAccountant();
      this.dpClip = this.config.dp.clip;
    }
    if (options.resume?.privacy && this.config.dp) {
      this.accountant = RdpAccountant.fromState(options.resume.privacy.accountant as never);
      this.dpClip = options.resume.privacy.clip;
    }
    if (options.resume) {
      this.globalWeights = options.resume.weights;
      this.strategyState = options.resume.strategyState;
      Object.assign(this.report, options.resume.report, { status: 'waiting', updatedAt: now, aborted: undefined });
      this.report.resumedAt = [...(options.resume.report.resumedAt ?? []), now];
    }
    options.transport.onConnection((link) => this.accept(link));
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

  private accept(link: SiteLink): void {
    link.onMessage((message) => this.onMessage(link, message));
    link.onInvalid((error) => {
      const site = this.sites.ofLink(link);
      const siteId = site?.siteId ?? `connection:${link.id}`;
      if (this.collector) this.collector.reject({ siteId, code: error.code, reason: error.message });
      this.emit({ type: 'result', round: this.collector?.round ?? 0, siteId, accepted: false, code: error.code, reason: error.message });
      link.send('rejected', { runId: this.config.runId, round: this.collector?.round, code: error.code, reason: error.message.slice(0, 2000) });
    });
    link.onClose((reason) => {
      const site = this.sites.leave(link);
      if (!site) return;
      this.collector?.fail(site.siteId, `disconnected: ${reason}`);
      this.evaluation?.drop(site.siteId);
      this.emit({ type: 'site-left', siteId: site.siteId, reason });
    });
  }

  private rejectMessage(link: SiteLink, code: string, reason: string, round?: number): void {
    link.send('rejected', { runId: this.config.runId, round, code, reason });
  }

  private onMessage(link: SiteLink, message: MessageOf<ClientToServer>): void {
    const site = this.sites.ofLink(link);
    if (site) site.lastSeen = Date.now();
    if (message.event === 'hello') {
      const hello = message.payload;
      if (site) return this.rejectMessage(link, 'duplicate_result', 'this connection has already joined');
      const verdict = this.options.authorize ? this.options.authorize(hello, link) : true;
      if (verdict === false || (typeof verdict === 'object' && !verdict.ok)) {
        const refusal = typeof verdict === 'object' && !verdict.ok ? verdict : undefined;
        this.rejectMessage(link, refusal?.code ?? 'unauthorized', refusal?.reason ?? `site ${hello.siteId} is not allowed to join`);
        link.close();
        return;
      }
      const previous = this.sites.get(hello.siteId);
      if (previous) {
        // A site that reconnects before its old connection timed out: the new connection replaces it.
        this.sites.leave(previous.link);
        previous.link.close();
        this.collector?.fail(hello.siteId, 'reconnected during the round');
        this.evaluation?.drop(hello.siteId);
      }
      this.sites.join(link, hello);
      link.send('welcome', { protocol: PROTOCOL_VERSION, runId: this.config.runId, siteId: hello.siteId });
      if (this.report.status === 'complete' || this.report.status === 'aborted') {
        // Joined (or rejoined) after the end: tell it the run is over.
        link.send('complete', this.completeMessage());
        return;
      }
      this.emit({ type: 'site-joined', siteId: hello.siteId, backend: hello.capabilities.backend, runtime: hello.capabilities.runtime, numExamples: hello.capabilities.numExamples });
      for (const wake of this.joinWaiters.splice(0)) wake();
      return;
    }
    if (!site) return this.rejectMessage(link, 'unauthorized', 'send hello before anything else');
    const claimed = message.payload.siteId;
    if (claimed !== site.siteId) {
      const reason = `connection joined as ${site.siteId} but the message claims ${claimed}`;
      this.collector?.reject({ siteId: site.siteId, code: 'unauthorized', reason });
      return this.rejectMessage(link, 'unauthorized', reason, 'round' in message.payload ? message.payload.round : undefined);
    }
    switch (message.event) {
      case 'fitResult':
        return this.onFitResult(site.siteId, link, message.payload);
      case 'evaluateResult': {
        const r = message.payload;
        if (this.evaluation && r.round === this.evaluation.round && r.runId === this.config.runId && this.evaluation.expects(site.siteId)) {
          this.evaluation.add({ siteId: site.siteId, accuracy: r.metrics.accuracy, loss: r.metrics.loss, numExamples: r.numExamples });
        }
        return;
      }
      case 'heartbeat':
        site.status = message.payload.status;
        return;
      case 'siteFailure': {
        const f = message.payload;
        if (this.collector && f.round === this.collector.round) this.collector.fail(site.siteId, `${f.code}: ${f.reason}`);
        this.evaluation?.drop(site.siteId);
        return;
      }
    }
  }

  private onFitResult(siteId: string, link: SiteLink, result: ClientToServer['fitResult']): void {
    const c = this.collector;
    if (!c) {
      this.rejectMessage(link, 'stale_round', 'no round is in progress', result.round);
      return;
    }
    const verdict = validateFitResult(siteId, result, {
      runId: this.config.runId,
      round: c.round,
      selected: c.selected,
      alreadyReceived: c.accepted,
      manifest: this.options.model.manifest,
      maxExamples: this.config.maxExamplesPerSite,
      maxUpdateBytes: this.config.maxUpdateBytes,
      global: this.globalWeights,
      maxUpdateNorm: this.config.maxUpdateNorm,
    });
    if (verdict.ok && c.closed) {
      const reason = `round ${c.round} closed before this result arrived`;
      c.reject({ siteId, code: 'stale_round', reason });
      this.emit({ type: 'result', round: c.round, siteId, accepted: false, code: 'stale_round', reason });
      this.rejectMessage(link, 'stale_round', reason, result.round);
    } else if (verdict.ok) {
      c.accept({ siteId, weights: verdict.weights, numExamples: verdict.numExamples, metrics: result.metrics, durationMs: result.durationMs, bytes: result.weights.byteLength });
      this.emit({ type: 'result', round: c.round, siteId, accepted: true });
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

  private async persist(): Promise<void> {
    this.report.updatedAt = new Date().toISOString();
    await this.options.persist?.(this.report);
  }

  /** Runs the whole federation and returns the final report. */
  async run(): Promise<RunReport> {
    try {
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
        this.report.rounds.push(record);
        this.report.final = { ...record.global, modelDir: record.modelDir, round };
        await this.options.checkpoint?.({
          round,
          weights: this.globalWeights,
          strategyState: this.strategyState,
          report: this.report,
          privacy: this.accountant ? { accountant: this.accountant.state, clip: this.dpClip } : undefined,
        });
        await this.persist();
        this.emit({ type: 'round-end', record });
      }
      this.report.status = this.stopped ? 'aborted' : 'complete';
      if (this.stopped) this.report.aborted = 'stopped';
    } catch (err) {
      this.report.status = 'aborted';
      this.report.aborted = err instanceof Error ? err.message : String(err);
    }
    await this.persist();
    for (const site of this.sites.all()) site.link.send('complete', this.completeMessage());
    this.emit({ type: 'complete', report: this.report });
    return this.report;
  }

  private completeMessage() {
    return {
      runId: this.config.runId,
      rounds: this.report.rounds.length,
      final: this.report.final ? { accuracy: this.report.final.accuracy, loss: this.report.final.loss } : undefined,
      aborted: this.report.aborted,
    };
  }

  /** Asks the engine to stop after the current round. */
  stop(): void {
    this.stopped = true;
    this.collector?.finish();
    for (const wake of this.joinWaiters.splice(0)) wake();
  }

  private sendTopology(siteId: string): number {
    const site = this.sites.get(siteId);
    if (!site || site.hasTopology) return 0;
    const payload = { runId: this.config.runId, modelVersion: 0, topology: this.options.model.topology, manifest: this.options.model.manifest };
    site.link.send('model', payload);
    site.hasTopology = true;
    return JSON.stringify(payload).length;
  }

  private async runRound(round: number): Promise<RoundRecord> {
    const started = Date.now();
    const { model } = this.options;
    let bytesDown = 0;
    let bytesUp = 0;
    const rejected: RoundRecord['rejected'] = [];
    const failed: RoundRecord['failed'] = [];
    for (let attempt = 1; ; attempt++) {
      // Sites that dropped get a grace period to rejoin before the next sample is drawn.
      if (this.sites.size < this.config.minSites) await this.waitForSites(this.config.rejoinGraceMs);
      const selected = this.sample(round, attempt);
      this.emit({ type: 'round-start', round, attempt, selected });
      const weightsBytes = encodeWeights({ manifest: model.manifest, arrays: this.globalWeights });
      const collector = new RoundCollector(round, new Set(selected), this.config.roundTimeoutMs);
      this.collector = collector;
      for (const siteId of selected) {
        const site = this.sites.get(siteId);
        if (!site) {
          collector.fail(siteId, 'left before the round started');
          continue;
        }
        bytesDown += this.sendTopology(siteId);
        site.link.send('fit', {
          runId: this.config.runId,
          round,
          modelVersion: round - 1,
          weights: weightsBytes,
          config: { ...this.config.train, seed: deriveSeed(this.config.seed, 'fit', round, siteId) },
        });
        bytesDown += weightsBytes.byteLength;
      }
      await collector.done;
      for (const siteId of selected) {
        if (!collector.answered.has(siteId)) collector.failed.push({ siteId, reason: `no result within ${this.config.roundTimeoutMs} ms` });
      }
      failed.push(...collector.failed);
      // Canonical order: by site id, so arrival order never changes the result.
      const updates = [...collector.accepted.values()].sort((a, b) => (a.siteId < b.siteId ? -1 : a.siteId > b.siteId ? 1 : 0));
      bytesUp += updates.reduce((n, u) => n + u.bytes, 0);
      const needed = Math.max(1, Math.ceil(this.config.quorum * selected.length));
      if (updates.length < needed || this.stopped) {
        const reason = this.stopped ? 'stopped' : `quorum not met: ${updates.length} of ${selected.length} results accepted, ${needed} needed`;
        rejected.push(...collector.rejected);
        this.collector = undefined;
        if (this.stopped || attempt >= this.config.maxRoundAttempts) {
          throw new FedtuneError('quorum_not_met', `round ${round} failed after ${attempt} attempt(s): ${reason}`);
        }
        this.emit({ type: 'round-retry', round, attempt, reason });
        continue;
      }
      let privacy: RoundRecord['privacy'];
      if (this.config.dp && this.accountant) {
        const dp = this.config.dp;
        const samplingRate = Math.min(1, selected.length / Math.max(1, this.sites.size, selected.length));
        const r = aggregateDp(this.globalWeights, updates.map((u) => u.weights), selected.length, this.dpClip, dp, new ChaChaRandom());
        this.globalWeights = r.weights;
        this.accountant.step(dp.noiseMultiplier, samplingRate);
        const eps = dp.noiseMultiplier > 0 ? this.accountant.getEpsilon(dp.delta) : { epsilon: Infinity, order: undefined };
        privacy = {
          epsilon: eps.epsilon,
          delta: dp.delta,
          order: eps.order,
          noiseMultiplier: dp.noiseMultiplier,
          clip: r.clip,
          nextClip: r.nextClip,
          samplingRate,
          clippedShare: r.clippedShare,
          steps: this.accountant.steps,
        };
        this.dpClip = r.nextClip;
        this.report.privacy = privacy;
      } else {
        const result = this.strategy.aggregate(
          this.globalWeights,
          updates.map((u) => ({ siteId: u.siteId, weights: u.weights, numExamples: u.numExamples })),
          this.strategyState,
          this.config.strategyOptions,
        );
        this.globalWeights = result.weights;
        this.strategyState = result.state;
      }
      const global = await model.evaluate(this.globalWeights);
      const modelDir = await model.save(round, this.globalWeights, privacy ? { privacy: { epsilon: privacy.epsilon, delta: privacy.delta } } : {});
      const record: RoundRecord = {
        round,
        durationMs: 0,
        attempts: attempt,
        selected,
        accepted: updates.map((u) => ({ siteId: u.siteId, numExamples: u.numExamples, loss: u.metrics.loss, accuracy: u.metrics.accuracy, durationMs: u.durationMs })),
        rejected,
        failed,
        bytesDown,
        bytesUp,
        global,
        modelDir,
        ...(privacy ? { privacy } : {}),
      };
      const wantFederated =
        this.config.federatedEvaluation === 'every-round' || (this.config.federatedEvaluation === 'final' && round === this.config.rounds);
      if (wantFederated) {
        const fed = await this.federatedEvaluate(round);
        record.federated = fed.summary;
        record.bytesDown += fed.bytesDown;
      }
      const { when, ...robustnessOptions } = this.config.robustness;
      if (model.evaluateRobustness && shouldEvaluateRobustness(when, round, this.config.rounds)) {
        this.emit({ type: 'robustness-start', round });
        record.robustness = await model.evaluateRobustness(this.globalWeights, robustnessOptions);
        if (round === this.config.rounds) this.report.finalRobustness = record.robustness;
      }
      // Late results that arrived while the round was being aggregated and evaluated are recorded too.
      rejected.push(...collector.rejected);
      this.collector = undefined;
      record.durationMs = Date.now() - started;
      return record;
    }
  }

  private async federatedEvaluate(round: number): Promise<{ summary: NonNullable<RoundRecord['federated']>; bytesDown: number }> {
    const ids = this.sites.ids();
    const weightsBytes = encodeWeights({ manifest: this.options.model.manifest, arrays: this.globalWeights });
    const collector = new EvaluationCollector(round, ids, this.config.roundTimeoutMs);
    this.evaluation = collector;
    let bytesDown = 0;
    for (const siteId of ids) {
      bytesDown += this.sendTopology(siteId);
      this.sites.get(siteId)!.link.send('evaluate', { runId: this.config.runId, round, modelVersion: round, weights: weightsBytes });
      bytesDown += weightsBytes.byteLength;
    }
    await collector.done;
    this.evaluation = undefined;
    const sites = [...collector.results.values()].filter((s) => s.numExamples > 0).sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
    const total = sites.reduce((n, s) => n + s.numExamples, 0);
    const accuracy = total > 0 ? sites.reduce((n, s) => n + s.accuracy * s.numExamples, 0) / total : NaN;
    const worst = sites.reduce<(typeof sites)[number] | undefined>((w, s) => (!w || s.accuracy < w.accuracy ? s : w), undefined);
    const spread = siteAccuracySummary(sites);
    return {
      summary: { sites, accuracy, worstSite: worst ? { siteId: worst.siteId, accuracy: worst.accuracy } : undefined, p10: spread.p10 ?? undefined, mean: spread.mean ?? undefined },
      bytesDown,
    };
  }
}
