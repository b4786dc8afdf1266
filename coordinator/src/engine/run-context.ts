import { scheduledTrain, warmedUpTrain, type RdpAccountant, type RunComplete, type RunReport, type SiteLink, type Strategy, type TrainSettings, type WeightArrays } from '@fedtune/shared';
import type { RoundAggregator } from './aggregation/round-aggregator.ts';
import { ModelVersions } from './model-versions.ts';
import type { DpNoise } from './distributed-dp-aggregation.ts';
import type { EngineEvent, RoundEngineOptions } from './engine-types.ts';
import type { EvaluationCollector } from './evaluation-collector.ts';
import type { FederatedEvaluation } from './federated-evaluation.ts';
import type { RoundCollector } from './round-collector.ts';
import type { RoundLoop } from './round-loop.ts';
import type { RunConfig } from './run-config.ts';
import type { SecureAggregationRound } from './secure-aggregation-round.ts';
import type { SecureRoundRunner } from './secure-round-runner.ts';
import type { SiteMembership } from './site-membership.ts';
import type { SiteRegistry, SiteState } from './site-registry.ts';
import type { SiteReportRound } from './site-report-round.ts';
import { TailAverage } from './tail-average.ts';
import type { UpdateGuard } from './update-guard.ts';
import { UnresponsiveSites } from './unresponsive-sites.ts';

/**
 * What the round engine's jobs share: the run's configuration, its global model and strategy state, the
 * report, and what is in progress (the round's collector and guard, a secure round, an evaluation, the site
 * report), which the message router feeds. The jobs reach one another through it.
 */
export class RunContext {
  /** The global model versions served over HTTP under modelDelivery 'http' (model-weights-route.ts). */
  readonly modelVersions = new ModelVersions();
  globalWeights: WeightArrays;
  strategyState: unknown;
  /** The final model's average over the last rounds (`averageRounds`; tail-average.ts). */
  tailAverage: TailAverage;
  collector?: RoundCollector;
  /** The current round's poisoning defences (update-guard.ts). */
  guard?: UpdateGuard;
  secureRound?: SecureAggregationRound;
  evaluation?: EvaluationCollector;
  siteReportRound?: SiteReportRound;
  stopped = false;
  accountant?: RdpAccountant;
  /** Who adds the DP noise (distributed-dp-aggregation.ts). */
  dpNoise?: DpNoise;
  dpClip = 0;
  /** Selected sites that gave no answer, and the rounds they sit out (unresponsive-sites.ts). */
  readonly unresponsive: UnresponsiveSites;
  /** The jobs, set by the engine once they exist. */
  membership!: SiteMembership;
  secure!: SecureRoundRunner;
  federated!: FederatedEvaluation;
  loop!: RoundLoop;

  constructor(
    readonly options: RoundEngineOptions,
    readonly config: RunConfig,
    readonly strategy: Strategy,
    /** The fewest accepted updates the strategy can aggregate (part of every round's quorum). */
    readonly minimumUpdates: number,
    readonly report: RunReport,
    readonly sites: SiteRegistry,
    /** The run's aggregation (aggregation/): begun afresh for every attempt of every round. */
    readonly aggregator: RoundAggregator,
  ) {
    this.globalWeights = options.model.initialWeights;
    this.strategyState = strategy.initialState(config.strategyOptions);
    this.tailAverage = new TailAverage(config.averageRounds, config.rounds, options.resume?.averaging);
    this.unresponsive = new UnresponsiveSites(config.stragglers.maxCooldownRounds, undefined, options.resume?.stragglers);
  }

  rejectMessage(link: SiteLink, code: string, reason: string, round?: number): void {
    this.membership.connections.refuse(link, code, reason, round);
  }

  emit(event: EngineEvent): void {
    this.options.onEvent?.(event);
  }

  /** The round's training settings: the run's, with the round's ε (warm-up) and learning rate (schedule), as the strategy configures them (its one hook to the sites). */
  trainSettings(round: number): TrainSettings {
    const train = scheduledTrain(warmedUpTrain(this.config.train, round), round, this.config.rounds);
    return this.strategy.configureTrain?.(train, { round, state: this.strategyState, options: this.config.strategyOptions }) ?? train;
  }

  sendTopology(siteId: string): number {
    const site = this.sites.get(siteId);
    if (!site || site.hasTopology) return 0;
    const text = this.options.model.text;
    const payload = { runId: this.config.runId, modelVersion: 0, topology: this.options.model.topology, manifest: this.options.model.manifest, ...(text ? { text } : {}), ...(this.config.classNames ? { classNames: this.config.classNames } : {}) };
    site.link.send('model', payload);
    site.hasTopology = true;
    return JSON.stringify(payload).length;
  }

  /** The weights to send with an instruction for `version`: none when the site holds that version already. */
  weightsFor(site: SiteState, version: number, bytes: Uint8Array): Uint8Array | undefined {
    return this.config.sitesKeepModel && site.heldModelVersion === version ? undefined : bytes;
  }

  async persist(): Promise<void> {
    this.report.updatedAt = new Date().toISOString();
    await this.options.persist?.(this.report);
  }

  /** The 'complete' message: always valid against its schema (no NaN, bounded reason), so sites exit cleanly. */
  completeMessage(): RunComplete {
    const final = this.report.final;
    return {
      runId: this.config.runId,
      rounds: this.report.rounds.length,
      final: final && Number.isFinite(final.accuracy) && Number.isFinite(final.loss) ? { accuracy: final.accuracy, loss: final.loss } : undefined,
      aborted: this.report.aborted?.slice(0, 2000),
    };
  }
}
