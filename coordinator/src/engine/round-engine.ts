import { FedtuneError, getStrategy, toFedtuneError, RdpAccountant, REPORT_SCHEMA_VERSION, shouldEvaluateRobustness, strategyNeedsIndividualUpdates, totalParameters, type RunReport, type WeightArrays } from '@fedtune/shared';
import { createRoundAggregator } from './aggregation/create-round-aggregator.ts';
import { resolveDpNoise } from './distributed-dp-aggregation.ts';
import { checkUpdateEncodingConfig } from './update-encoding.ts';
import type { ModelVersions } from './model-versions.ts';
import type { RoundEngineOptions } from './engine-types.ts';
import { FederatedEvaluation } from './federated-evaluation.ts';
import { RoundLoop } from './round-loop.ts';
import { refuseTrainSettingsTheStrategyOverrides } from '../config/inactive-run-config.ts';
import type { RunConfig } from './run-config.ts';
import { RunContext } from './run-context.ts';
import { saving } from './saving.ts';
import { SecureRoundRunner } from './secure-round-runner.ts';
import { SiteMembership } from './site-membership.ts';
import { SiteMessageRouter } from './site-message-router.ts';
import { SiteRegistry } from './site-registry.ts';
import { wantsSiteReport } from './site-report-round.ts';
import type { TermsGate } from './terms-gate.ts';
import type { UnresponsiveSites } from './unresponsive-sites.ts';
import { settleRoundRecord } from '../persistence/settled-rounds.ts';

export type { EngineCheckpoint, EngineEvent, RoundEngineOptions } from './engine-types.ts';

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
  private readonly strategy: ReturnType<typeof getStrategy>;
  /** The fewest accepted updates the strategy can aggregate (part of every round's quorum). */
  private readonly minimumUpdates: number;
  /** What the jobs share (run-context.ts): membership, routing, the round loop, secure aggregation, federated evaluation. */
  private readonly ctx: RunContext;
  readonly report: RunReport;
  /** The run's signed terms and the join protocol around them (terms-gate.ts). */
  readonly termsGate: TermsGate;
  /**
   * A resumed run's report as the checkpoint left it (what a resume changes): restored when the resumed run is
   * stopped before it records a round, so a finished run extended with `--resume --rounds N` and stopped while
   * waiting for sites stays as it was (complete, its planned rounds), not aborted with a target it never started.
   */
  private readonly resumedAs?: Pick<RunReport, 'status' | 'config' | 'aborted' | 'abortedCode' | 'siteReport' | 'resumedAt'> & { rounds: number };
  /** The global model versions served over HTTP under modelDelivery 'http' (model-weights-route.ts). */
  get modelVersions(): ModelVersions {
    return this.ctx.modelVersions;
  }

  constructor(options: RoundEngineOptions) {
    this.strategy = getStrategy(options.config.strategy);
    // Options the user left out may come from what the run knows (Krum's f from expectedMaliciousSites);
    // the report's config shows the options actually used.
    const strategyOptions = this.strategy.completeOptions?.(options.config.strategyOptions, { expectedMaliciousSites: options.config.expectedMaliciousSites }) ?? options.config.strategyOptions;
    this.config = { ...options.config, strategyOptions };
    this.minimumUpdates = this.strategy.minimumUpdates?.(this.config.strategyOptions) ?? 1;
    if (this.config.minSites < this.minimumUpdates) {
      throw new FedtuneError('config', `strategy "${this.strategy.name}" with options ${JSON.stringify(this.config.strategyOptions)} needs at least ${this.minimumUpdates} updates per round, but the run starts with minSites = ${this.config.minSites}: raise minSites (--min-sites, or --sites in simulate) or tolerate fewer byzantine sites (f)`);
    }
    refuseTrainSettingsTheStrategyOverrides(this.config);
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
    let accountant: RdpAccountant | undefined;
    let dpClip = 0;
    if (this.config.dp) {
      if (this.strategy.name !== 'fedavg') {
        throw new FedtuneError('config', `differential privacy runs DP-FedAvg; it cannot be combined with strategy "${this.strategy.name}"`);
      }
      accountant = new RdpAccountant();
      dpClip = this.config.dp.clip;
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
      if (this.config.stragglers.waitAfterQuorumMs !== undefined) {
        throw new FedtuneError('config', 'stragglers.waitAfterQuorumMs closes a round early on its accepted updates, but a secure-aggregation round has its own phase deadlines (secureAggregation.phaseTimeoutMs): leave it out with secure aggregation');
      }
    }
    checkUpdateEncodingConfig(this.config);
    const dpNoise = this.config.dp ? resolveDpNoise(this.config.dp, this.config.secureAggregation !== undefined) : undefined;
    const aggregator = createRoundAggregator({ config: this.config, strategy: this.strategy, lengths: options.model.manifest.map((m) => m.shape.reduce((a, b) => a * b, 1)), dpNoise });
    const ctx = new RunContext(options, this.config, this.strategy, this.minimumUpdates, this.report, this.sites, aggregator);
    this.ctx = ctx;
    Object.assign(ctx, { accountant, dpClip, dpNoise });
    if (options.resume?.privacy && this.config.dp) {
      ctx.accountant = RdpAccountant.fromState(options.resume.privacy.accountant as never);
      ctx.dpClip = options.resume.privacy.clip;
    }
    if (options.resume) {
      ctx.globalWeights = options.resume.weights;
      ctx.strategyState = options.resume.strategyState;
      // The report carries the checkpointed history, and the configuration this run continues with.
      // A per-site report in the checkpoint is of an earlier final model: the resumed run makes its own (or none).
      const before = options.resume.report;
      // A checkpoint is written mid-run (its report says running): a run with all its planned rounds had completed,
      // any other had stopped (its report.json said aborted).
      const plannedRounds = Number((before.config as { rounds?: unknown } | undefined)?.rounds);
      const complete = before.rounds.length >= plannedRounds;
      this.resumedAs = { status: complete ? 'complete' : 'aborted', config: before.config, aborted: complete ? undefined : (before.aborted ?? 'stopped'), abortedCode: complete ? undefined : before.abortedCode, siteReport: before.siteReport, resumedAt: before.resumedAt, rounds: before.rounds.length };
      Object.assign(this.report, options.resume.report, { status: 'waiting', updatedAt: now, aborted: undefined, abortedCode: undefined, siteReport: undefined, config: this.config as unknown as Record<string, unknown> });
      this.report.resumedAt = [...(options.resume.report.resumedAt ?? []), now];
    }
    // The jobs (each in its own file), sharing the run's context.
    ctx.membership = new SiteMembership(ctx, new SiteMessageRouter(ctx));
    ctx.secure = new SecureRoundRunner(ctx);
    ctx.federated = new FederatedEvaluation(ctx);
    ctx.loop = new RoundLoop(ctx);
    this.termsGate = ctx.membership.termsGate;
    options.transport.onConnection((link) => ctx.membership.connections.accept(link));
  }

  /** The current global weights (a live reference; copy before mutating). */
  get weights(): WeightArrays {
    return this.ctx.globalWeights;
  }

  /** Selected sites that gave no answer, and their cooldowns (unresponsive-sites.ts). */
  get unresponsive(): UnresponsiveSites {
    return this.ctx.unresponsive;
  }

  get currentRound(): number | undefined {
    return this.ctx.collector?.round;
  }

  /** Runs the whole federation and returns the final report. */
  async run(): Promise<RunReport> {
    try {
      // The run's published terms go first into the audit trail (their hash; the terms are at GET /api/v1/terms).
      if (this.report.terms) this.ctx.emit({ type: 'terms', sha256: this.report.terms.hash });
      await this.ctx.membership.waitForSites();
      this.report.status = 'running';
      if (!this.report.pretrained) {
        this.report.pretrained = await this.ctx.options.model.evaluate(this.ctx.globalWeights);
        this.ctx.emit({ type: 'pretrained', ...this.report.pretrained });
      }
      await this.ctx.persist();
      const first = (this.ctx.options.resume?.round ?? 0) + 1;
      for (let round = first; round <= this.config.rounds && !this.ctx.stopped; round++) {
        const record = await this.ctx.loop.runRound(round);
        // The previous round's robustness evaluation overlapped this round: its result joins the checkpoint below.
        await this.ctx.loop.settleRobustness(round);
        // Every earlier round's record is complete now (its late robustness result has landed): settled, it is
        // serialised once for report.json and the checkpoints, not again every round (settled-rounds.ts).
        for (const earlier of this.report.rounds) settleRoundRecord(earlier);
        this.report.rounds.push(record);
        this.report.final = { ...record.global, modelDir: record.modelDir, round };
        await saving(`the audit log of round ${round}`, () => this.ctx.options.roundSaved?.(record, this.ctx.globalWeights));
        await saving(`the checkpoint of round ${round}`, () =>
          this.ctx.options.checkpoint?.({
            round,
            weights: this.ctx.globalWeights,
            strategyState: this.ctx.strategyState,
            report: this.report,
            privacy: this.ctx.accountant ? { accountant: this.ctx.accountant.state, clip: this.ctx.dpClip } : undefined,
            averaging: this.ctx.tailAverage.state,
            stragglers: this.ctx.unresponsive.state,
          }),
        );
        await saving(`the report after round ${round}`, () => this.ctx.persist());
        this.ctx.emit({ type: 'round-end', record });
      }
      await this.ctx.loop.settleRobustness();
      // The text robustness evaluates the final model: it follows robustness.when like the image one (never: off).
      if (!this.ctx.stopped && this.report.rounds.length > 0 && this.ctx.options.textRobustness && shouldEvaluateRobustness(this.config.robustness.when, this.config.rounds, this.config.rounds)) {
        const { examples, seed } = this.config.robustness;
        this.report.textRobustness = await this.ctx.options.textRobustness(this.ctx.globalWeights, { ...(examples !== undefined ? { examples } : {}), ...(seed !== undefined ? { seed } : {}) });
      }
      if (!this.ctx.stopped && this.report.rounds.length > 0 && wantsSiteReport(this.config)) {
        this.report.siteReport = await this.ctx.federated.runSiteReport(this.report.rounds.at(-1)!.round);
      }
      this.report.status = this.ctx.stopped ? 'aborted' : 'complete';
      if (this.ctx.stopped) this.report.aborted = 'stopped';
    } catch (err) {
      this.report.status = 'aborted';
      this.report.aborted = err instanceof Error ? err.message : String(err);
      // A stop is no error: only the errors that ended the run themselves carry a code.
      if (!this.ctx.stopped) this.report.abortedCode = toFedtuneError(err).code;
    }
    // An aborted run still waits for the robustness evaluations in flight (their errors are moot by now).
    for (const pending of this.ctx.loop.pendingRobustness.splice(0)) await pending.outcome;
    if (this.ctx.stopped && this.resumedAs && this.report.rounds.length === this.resumedAs.rounds) {
      const { rounds: _, ...before } = this.resumedAs;
      Object.assign(this.report, before);
    }
    try {
      await saving('the final report', () => this.ctx.persist());
    } catch (err) {
      // The sites are told either way: a coordinator that cannot write must not leave them waiting.
      this.report.status = 'aborted';
      this.report.aborted = [this.report.aborted, (err as Error).message].filter(Boolean).join('; ');
      this.report.abortedCode ??= toFedtuneError(err).code;
    }
    for (const site of this.sites.all()) site.link.send('complete', this.ctx.completeMessage());
    this.ctx.emit({ type: 'complete', report: this.report });
    return this.report;
  }

  /** Asks the engine to stop after the current round. */
  stop(): void {
    this.ctx.stopped = true;
    this.termsGate.close();
    this.ctx.collector?.finish();
    this.ctx.secureRound?.abort('stopped');
    this.ctx.membership.wake();
  }
}
