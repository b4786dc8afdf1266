import type { RunContext } from './run-context.ts';
import { adversarialRegimeStart, adversarialTrainingOn, clipText, FedtuneError, deriveSeed, encodeWeights, robustnessParts, shouldEvaluateRobustness, type FitResultMetrics, type RoundRecord } from '@fedtune/shared';
import { distributedRoundNoiseMultiplier } from './distributed-dp-aggregation.ts';
import type { SecureSumAggregator } from './aggregation/secure-sum-aggregator.ts';
import type { GlobalMetrics } from './global-model.ts';
import { RoundCollector } from './round-collector.ts';
import type { SecureRoundResult } from './secure-aggregation-round.ts';
import { UpdateGuard } from './update-guard.ts';
import { RetryExclusions } from './retry-exclusions.ts';
import { adversarialDriftTolerance, bestRound, type BestRound, checkCandidateAgainstBest, checkCandidateMetrics, checkCandidateWeights } from './model-adoption.ts';
import { fitSeed } from './fit-seed.ts';
import { MAX_LISTED_COOLING } from './unresponsive-sites.ts';
import { pacedFanOut } from '../transport/paced-fan-out.ts';
import { saving } from './saving.ts';
import { instructionModel } from './model-delivery.ts';
import { updateEncodingRecord } from './update-encoding.ts';
import { prepareRobustnessHelper, prepareRobustnessInputs } from './prepare-robustness-inputs.ts';

/** The site's record-level DP-SGD ε and its privacy-ledger totals from its fit metrics, as the accepted entry's optional fields. */
function siteEpsilon(metrics: FitResultMetrics, dpSgd: boolean): { epsilon?: number; ledger?: { runEpsilon: number | null; totalEpsilon: number | null } } {
  // A DP-SGD spend is reported only where the run asked its sites for DP-SGD: elsewhere a site's claim means nothing.
  return { ...(dpSgd && metrics.privacy ? { epsilon: metrics.privacy.epsilon } : {}), ...(metrics.ledger ? { ledger: { runEpsilon: metrics.ledger.runEpsilon, totalEpsilon: metrics.ledger.totalEpsilon } } : {}) };
}

/** Why sites gave no usable result, for a quorum failure's reason: a few sites' reasons, each clipped. */
function whyMissing(failed: ReadonlyArray<{ siteId: string; reason: string }>, rejected: ReadonlyArray<{ siteId: string; code: string; reason: string }>): string {
  const all = [...failed.map((f) => `${f.siteId}: ${f.reason}`), ...rejected.map((r) => `${r.siteId}: ${r.code}: ${r.reason}`)];
  if (all.length === 0) return '';
  const shown = all.slice(0, 3).map((s) => (s.length > 300 ? `${s.slice(0, 300)}…` : s));
  return ` (${shown.join('; ')}${all.length > 3 ? `; and ${all.length - 3} more` : ''})`;
}

/**
 * One round, attempt by attempt: configure (sample, send the model) → collect → aggregate (aggregation/) →
 * adopt → evaluate → the round record. Persisting the record is the engine's (round-engine.ts).
 */
export class RoundLoop {
  /** Non-final rounds' robustness evaluations still running on the evaluation worker (settled by `settleRobustness`). */
  readonly pendingRobustness: Array<{ round: number; record: RoundRecord; outcome: Promise<{ error?: unknown }> }> = [];

  constructor(private readonly ctx: RunContext) {}

  /**
   * What the drift check compares a round's model with, and the drop it allows (model-adoption.ts). Without
   * adversarial training: the run's best round model, `maxDropFromBest`. With it, the best model of the round's
   * training regime (adversarialRegimeStart: an ε that grows lowers clean accuracy by design) and a drop that also
   * follows how much the regime's clean accuracy moves from round to round (adversarialDriftTolerance), never
   * beyond the collapse bound; a regime with no round yet — each round of an ε warm-up, the first at full ε — is
   * held to the run's best by the collapse bound, so a pull during the warm-up walks the model no further than that.
   */
  private driftReference(round: number, maxDropFromBest: number, maxDrop: number): [BestRound | undefined, number] {
    const { train } = this.ctx.config;
    const rounds = this.ctx.report.rounds;
    if (!adversarialTrainingOn(train) || maxDropFromBest >= 1) return [bestRound(rounds), maxDropFromBest];
    const cap = Math.max(maxDropFromBest, maxDrop);
    const since = adversarialRegimeStart(train, round);
    const regime = bestRound(rounds, since);
    if (regime || since <= 1) return [regime, adversarialDriftTolerance(rounds, since, maxDropFromBest, cap)];
    return [bestRound(rounds), cap];
  }

  /** Whether the robustness evaluation's inputs were asked for (once per process and run: at the first round it runs, also after a resume). */
  private robustnessPrepared = false;

  /**
   * Cooldowns (unresponsive-sites.ts): the sites whose update was taken are forgiven their misses; `silent` (no
   * answer by the attempt's deadline, still joined) sit out the next rounds, this round's further attempts included.
   */
  private noteAnswers(round: number, answered: Iterable<string>, silent: Iterable<string>): void {
    for (const siteId of answered) this.ctx.unresponsive.answered(siteId);
    for (const siteId of silent) if (this.ctx.sites.get(siteId)) this.ctx.unresponsive.missed(siteId, round);
  }

  async runRound(round: number): Promise<RoundRecord> {
    const started = Date.now();
    const { model } = this.ctx.options;
    if (!this.robustnessPrepared) {
      this.robustnessPrepared = true;
      prepareRobustnessInputs(model, this.ctx.config.robustness, this.ctx.config.rounds);
    }
    prepareRobustnessHelper(model, this.ctx.config.robustness, round, this.ctx.config.rounds);
    let bytesDown = 0;
    let bytesUp = 0;
    const rejected: RoundRecord['rejected'] = [];
    /** Refusals the attempts' collectors counted without listing them (MAX_ROUND_REJECTIONS). */
    let rejectedNotListed = 0;
    const failed: RoundRecord['failed'] = [];
    /** Aggregates the model adoption guard refused, by attempt (model-adoption.ts). */
    const refusals: Array<{ attempt: number; reason: string }> = [];
    /** Sites whose secure-aggregation secrets an attempt could not recover: not sampled again this round. */
    const leftOut = new Set<string>();
    /**
     * The joined sites the last attempt did not sample: cooling down after giving no answer, or still busy with
     * a fit the quorum wait cut them off from (unresponsive-sites.ts).
     */
    let cooling: string[] = [];
    let busy: string[] = [];
    /** Who a retry leaves out (sites that failed an attempt, sites that joined since the round began), plain or secure. */
    const retry = new RetryExclusions(this.ctx.sites.ids(), this.ctx.config.minSites);
    for (let attempt = 1; ; attempt++) {
      // Sites that dropped get a grace period to rejoin before the next sample is drawn.
      if (this.ctx.sites.size < this.ctx.config.minSites) await this.ctx.membership.waitForSites(this.ctx.config.rejoinGraceMs);
      const excluded = attempt > 1 ? new Set([...leftOut, ...retry.leftOut(this.ctx.sites.ids())]) : leftOut;
      const sample = this.ctx.membership.sample(round, attempt, excluded);
      const selected = sample.selected;
      cooling = sample.cooling;
      busy = sample.busy;
      this.ctx.emit({ type: 'round-start', round, attempt, selected });
      const weightsBytes = encodeWeights({ manifest: model.manifest, arrays: this.ctx.globalWeights });
      const collector = new RoundCollector(round, new Set(selected), this.ctx.config.roundTimeoutMs);
      const deadlineMs = Date.now() + this.ctx.config.roundTimeoutMs;
      const needed = Math.max(this.ctx.minimumUpdates, Math.ceil(this.ctx.config.quorum * selected.length));
      const waitAfterQuorumMs = this.ctx.config.stragglers.waitAfterQuorumMs;
      const guard = this.updateGuard(selected);
      if (waitAfterQuorumMs !== undefined && !this.ctx.config.secureAggregation) collector.closeAfterQuorum(needed, waitAfterQuorumMs, () => guard.keptOf(collector.accepted.values()));
      collector.streamBound = guard.streamBound;
      this.ctx.guard = guard;
      this.ctx.collector = collector;
      const secure = this.ctx.config.secureAggregation ? this.ctx.secure.prepareSecureRound(round, attempt, selected) : undefined;
      const aggregator = this.ctx.aggregator;
      aggregator.begin({
        runId: this.ctx.config.runId,
        round,
        attempt,
        global: this.ctx.globalWeights,
        strategyState: this.ctx.strategyState,
        selected: selected.length,
        ...(this.ctx.config.dp ? { dpClip: this.ctx.dpClip } : {}),
        ...(secure?.instruction ? { fixedPoint: secure.instruction.fixedPoint } : {}),
      });
      // Plain updates are folded into the aggregator as they are accepted (streaming FedAvg keeps only its sum);
      // order-independent, so arrival order never changes the result.
      if (!secure) collector.aggregator = aggregator;
      const modelVersion = round - 1;
      // A cluster's followers fold their own sites' plain-FedAvg updates into partials (remote-partials.ts).
      const remote =
        !secure && aggregator.kind === 'streaming-fedavg' && this.ctx.options.remotePartials
          ? await this.ctx.options.remotePartials.beginAttempt({ config: this.ctx.config, round, attempt, selected, modelVersion, weightsBytes, aggregator, collector, guard, site: (id) => this.ctx.sites.get(id), emit: (e) => this.ctx.emit(e) })
          : undefined;
      const settings = this.ctx.trainSettings(round);
      // Encoded once, the same bytes for every site; sent in chunks with a turn of the event loop between
      // (all at once under secure aggregation: its first phase must be running before any site can answer).
      await pacedFanOut(secure && !secure.round ? [] : selected, (siteId) => {
        const site = this.ctx.sites.get(siteId);
        if (!site || site.link.closed) {
          collector.fail(siteId, 'left before the round started');
          secure?.round?.drop(siteId);
          return 0;
        }
        bytesDown += this.ctx.sendTopology(siteId);
        const delivered = instructionModel(this.ctx.config.modelDelivery, this.ctx.modelVersions, modelVersion, this.ctx.weightsFor(site, modelVersion, weightsBytes));
        site.link.send('fit', {
          runId: this.ctx.config.runId,
          round,
          modelVersion,
          ...delivered.fields,
          ...(this.ctx.config.sitesKeepModel ? {} : { dropModel: true }),
          config: { ...settings, seed: fitSeed(this.ctx.config.seed, round, attempt, siteId), ...(this.ctx.config.personalization.mode === 'fedbn' ? { localBatchNorm: true } : {}) },
          ...(secure?.round ? { secureAggregation: secure.instruction } : {}),
        });
        // Training changes the site's model: it no longer holds any global version.
        site.heldModelVersion = undefined;
        bytesDown += delivered.socketBytes;
        return delivered.socketBytes;
      }, secure ? Infinity : undefined, secure ? Infinity : undefined);
      let accepted: RoundRecord['accepted'];
      let updateNorms: RoundRecord['updateNorms'];
      let acceptedUpdateBytes: number[] = [];
      let failure: string | undefined;
      let secureSum: SecureRoundResult | undefined;
      if (secure) {
        const outcome = await this.ctx.secure.runSecureRound(secure.round, selected, collector);
        this.noteAnswers(round, outcome.result?.survivors ?? [], outcome.silent ?? []);
        failure = outcome.failure ?? secure.failure;
        for (const id of outcome.unrecoverable ?? []) leftOut.add(id);
        failed.push(...collector.failed);
        bytesUp += outcome.result?.bytesUp ?? secure.round?.bytesUp ?? 0;
        bytesDown += outcome.result?.bytesDown ?? secure.round?.bytesDown ?? 0;
        const r = outcome.result;
        if (r && !failure && r.survivors.length < needed) failure = `quorum not met: ${r.survivors.length} of ${selected.length} sites in the secure sum, ${needed} needed`;
        if (r && !failure && !(r.totalWeight > 0)) failure = 'the secure sum carries no weight (sites with no examples)';
        // The coordinator learns only the survivors' sum: the aggregator decodes it (secure-sum-aggregator.ts).
        secureSum = r;
        if (r && !failure) (aggregator as SecureSumAggregator).addSum({ sum: r.sum, survivors: r.survivors.map((id) => ({ siteId: id, numExamples: r.reports.get(id)?.numExamples ?? 0 })) });
        accepted = r ? r.survivors.map((id) => {
          const rep = r.reports.get(id)!;
          return { siteId: id, numExamples: rep.numExamples, loss: rep.metrics.loss, accuracy: rep.metrics.accuracy, durationMs: rep.durationMs, ...siteEpsilon(rep.metrics, this.ctx.config.train.dpSgd !== undefined) };
        }) : [];
      } else {
        await collector.done;
        await remote?.close();
        const silent = selected.filter((siteId) => !collector.answered.has(siteId));
        const why = collector.closedAfterQuorum
          ? `no result within ${waitAfterQuorumMs} ms after the round's quorum of ${needed} results (stragglers.waitAfterQuorumMs)`
          : `no result within ${this.ctx.config.roundTimeoutMs} ms`;
        for (const siteId of silent) collector.failed.push({ siteId, reason: why });
        failed.push(...collector.failed);
        bytesUp += [...collector.accepted.values()].reduce((n, u) => n + u.bytes, 0);
        // The adaptive norm bound, decided on the round's full set of norms (update-guard.ts).
        const undecided = [...collector.accepted.values()].filter((u) => !guard.certain(u.norm)).map((u) => u.siteId);
        const norms = guard.settle(collector);
        // The held updates the bound kept are now certain to be in the aggregate (site-id order).
        for (const siteId of undecided.sort()) if (collector.accepted.has(siteId)) this.ctx.emit({ type: 'result', round, siteId, accepted: true });
        for (const o of norms.outliers) {
          collector.rejected.push(o);
          this.ctx.emit({ type: 'result', round, siteId: o.siteId, accepted: false, code: o.code, reason: o.reason });
          const link = this.ctx.sites.get(o.siteId)?.link;
          if (link) this.ctx.rejectMessage(link, o.code, o.reason, round);
        }
        if (guard.normBoundActive && norms.median !== undefined) updateNorms = { median: norms.median, bound: norms.bound };
        const plain = [...collector.accepted.values()].sort((a, b) => (a.siteId < b.siteId ? -1 : a.siteId > b.siteId ? 1 : 0));
        // Sites the quorum wait cut off may be slow rather than silent (and fast peers decide when that wait
        // starts): they are busy until they answer, even late, and only one silent until the round's deadline
        // sits out a cooldown (unresponsive-sites.ts).
        const missing = silent.filter((id) => !collector.excused.has(id));
        this.noteAnswers(round, plain.map((u) => u.siteId), collector.closedAfterQuorum ? [] : missing);
        if (collector.closedAfterQuorum) for (const id of missing) if (this.ctx.sites.get(id)) this.ctx.unresponsive.cutOff(id, deadlineMs);
        if (plain.length < needed) failure = `quorum not met: ${plain.length} of ${selected.length} results accepted, ${needed} needed${whyMissing(collector.failed, collector.rejected)}`;
        acceptedUpdateBytes = plain.map((u) => u.bytes);
        accepted = plain.map((u) => ({
          siteId: u.siteId,
          numExamples: u.numExamples,
          ...(u.effectiveExamples !== u.numExamples ? { effectiveExamples: u.effectiveExamples } : {}),
          loss: u.metrics.loss,
          accuracy: u.metrics.accuracy,
          durationMs: u.durationMs,
          ...siteEpsilon(u.metrics, this.ctx.config.train.dpSgd !== undefined),
        }));
      }
      if (failure !== undefined || this.ctx.stopped) {
        const reason = this.ctx.stopped ? 'stopped' : failure!;
        retry.noteFailedAttempt([...collector.failed, ...collector.rejected].map((f) => f.siteId));
        rejected.push(...collector.rejected);
        rejectedNotListed += collector.rejectedNotListed;
        this.ctx.collector = undefined;
        this.ctx.guard = undefined;
        if (this.ctx.stopped || attempt >= this.ctx.config.maxRoundAttempts) {
          throw new FedtuneError('quorum_not_met', `round ${round} failed after ${attempt} attempt(s): ${reason}`);
        }
        this.ctx.emit({ type: 'round-retry', round, attempt, reason });
        continue;
      }
      let privacy: RoundRecord['privacy'];
      // The aggregate is a candidate until the adoption guard accepts it (model-adoption.ts).
      const outcome = aggregator.finish();
      const candidate = outcome.weights;
      const candidateState = outcome.strategyState;
      if (this.ctx.config.dp && this.ctx.accountant) {
        const dp = this.ctx.config.dp;
        const samplingRate = Math.min(1, selected.length / Math.max(1, this.ctx.sites.size, selected.length));
        // Under secure aggregation only the survivors' sum is known: 'central' noised it, 'distributed' summed
        // the sites' own noise and added nothing (clippedShare unknown: null).
        const distributed = secureSum && this.ctx.dpNoise === 'distributed' ? secureSum : undefined;
        const r = outcome.dp!;
        const instruction = distributed ? secure!.instruction! : undefined;
        const z = instruction
          ? distributedRoundNoiseMultiplier(
              { noiseMultiplier: dp.noiseMultiplier, clip: instruction.clip, threshold: instruction.threshold, weight: 1 / instruction.weightDenominator },
              { survivors: distributed!.survivors.length, scale: instruction.fixedPoint.scale, vectorLength: instruction.vectorLength },
            )
          : dp.noiseMultiplier;
        this.ctx.accountant.step(z, samplingRate);
        const eps = z > 0 ? this.ctx.accountant.getEpsilon(dp.delta) : { epsilon: Infinity, order: undefined };
        privacy = {
          ...(this.ctx.dpNoise ? { noise: this.ctx.dpNoise } : {}),
          ...(instruction ? { distributed: { configuredNoiseMultiplier: dp.noiseMultiplier, threshold: instruction.threshold, survivors: distributed!.survivors.length } } : {}),
          epsilon: eps.epsilon,
          delta: dp.delta,
          order: eps.order,
          noiseMultiplier: z,
          clip: r.clip,
          nextClip: r.nextClip,
          samplingRate,
          clippedShare: r.clippedShare,
          steps: this.ctx.accountant.steps,
        };
        this.ctx.dpClip = r.nextClip;
        this.ctx.report.privacy = privacy;
      }
      const weightsVerdict = checkCandidateWeights(candidate);
      const candidateMetrics = weightsVerdict.ok ? await model.evaluate(candidate) : undefined;
      // Under DP the clip already bounds every site's pull (C/m) and the noise lowers accuracy by design: a retry
      // would spend privacy budget on it, so only the non-finite check applies.
      const maxDrop = this.ctx.config.dp ? 1 : this.ctx.config.maxAccuracyDrop;
      const maxDropFromBest = this.ctx.config.dp ? 1 : this.ctx.config.maxAccuracyDropFromBest;
      let adoption = candidateMetrics ? checkCandidateMetrics(candidateMetrics, this.ctx.report.final ?? this.ctx.report.pretrained, maxDrop) : weightsVerdict;
      // Against the best model of this round's training regime: an adversarial ε that grows (its warm-up) lowers
      // clean accuracy by design, and a model of a smaller ε is no reference for it (adversarialRegimeStart).
      if (adoption.ok && candidateMetrics) adoption = checkCandidateAgainstBest(candidateMetrics, ...this.driftReference(round, maxDropFromBest, maxDrop));
      let global: GlobalMetrics;
      if (adoption.ok) {
        this.ctx.globalWeights = candidate;
        this.ctx.strategyState = candidateState;
        global = candidateMetrics!;
      } else {
        refusals.push({ attempt, reason: adoption.reason });
        if (attempt < this.ctx.config.maxRoundAttempts && !this.ctx.stopped) {
          rejected.push(...collector.rejected);
          rejectedNotListed += collector.rejectedNotListed;
          this.ctx.collector = undefined;
          this.ctx.guard = undefined;
          this.ctx.emit({ type: 'round-retry', round, attempt, reason: `model not adopted: ${adoption.reason}` });
          continue;
        }
        // Attempts exhausted: the round keeps the current model, which stays what the sites get.
        global = await model.evaluate(this.ctx.globalWeights);
      }
      // averageRounds: the run ends with the mean of its last rounds' models (tail-average.ts); from here on
      // (calibration, robustness, saving, federated evaluation, personalisation) that mean is the global model.
      this.ctx.tailAverage.add(round, this.ctx.globalWeights);
      let averagedRounds: number | undefined;
      const averaged = round === this.ctx.config.rounds ? this.ctx.tailAverage.mean() : undefined;
      if (averaged) {
        this.ctx.globalWeights = averaged;
        global = await model.evaluate(averaged);
        averagedRounds = this.ctx.tailAverage.averaged;
      }
      const { when, certify, ...robustnessOptions } = this.ctx.config.robustness;
      const robustnessNow = Boolean(model.evaluateRobustness) && shouldEvaluateRobustness(when, round, this.ctx.config.rounds);
      // Temperature scaling where robustness is evaluated; the temperature is saved with the model (model.json).
      const calibration = robustnessNow ? await this.ctx.federated.calibrate(round) : undefined;
      const modelDir = await saving(`the round-${round} model`, () =>
        model.save(round, this.ctx.globalWeights, {
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
        ...(secureSum ? { secureAggregation: { wrongShares: secureSum.wrongShares, silentInUnmasking: secureSum.silentInUnmasking } } : {}),
        ...(secure ? {} : { updateEncoding: updateEncodingRecord(this.ctx.config.train, acceptedUpdateBytes, weightsBytes.byteLength) }),
        ...(refusals.length > 0 ? { adoption: { adopted: adoption.ok, refusals } } : {}),
        ...(averagedRounds ? { averagedRounds } : {}),
        ...(cooling.length > 0 ? { cooling: { count: cooling.length, sites: cooling.slice(0, MAX_LISTED_COOLING).map((id) => clipText(id, 128)) } } : {}),
        ...(busy.length > 0 ? { busy: { count: busy.length, sites: busy.slice(0, MAX_LISTED_COOLING).map((id) => clipText(id, 128)) } } : {}),
      };
      // The robustness evaluation runs on the evaluation worker (tf-global-model.ts) while the round goes on:
      // in the final round it overlaps the federated evaluation and is awaited before the round ends; in an
      // earlier round it overlaps the next round and lands in this round's record before the next checkpoint.
      let robustness: Promise<void> | undefined;
      if (model.evaluateRobustness && robustnessNow) {
        this.ctx.emit({ type: 'robustness-start', round, parts: robustnessParts(this.ctx.config.robustness) });
        if (calibration) record.bytesDown += calibration.bytesDown;
        robustness = model
          .evaluateRobustness(this.ctx.globalWeights, {
            ...robustnessOptions,
            ...(calibration?.fit ? { calibration: calibration.fit } : {}),
            // Randomized smoothing certifies the final model only (it costs n0 + n forward passes per example).
            ...(certify && round === this.ctx.config.rounds ? { certify } : {}),
          })
          .then((report) => {
            if (calibration?.warning) report.warnings.push(calibration.warning);
            record.robustness = report;
            if (round === this.ctx.config.rounds) this.ctx.report.finalRobustness = report;
          });
        // Handled from now on: it may fail (e.g. the evaluation worker closed by a stop) while the federated
        // evaluation below is awaited, before anything awaits it — an unhandled rejection ends the process.
        // Awaiting it later still throws its error.
        robustness.catch(() => undefined);
      }
      const wantFederated =
        this.ctx.config.federatedEvaluation === 'every-round' || (this.ctx.config.federatedEvaluation === 'final' && round === this.ctx.config.rounds);
      // A failure here fails the round; its robustness evaluation is left to finish (its rejection is handled above).
      if (wantFederated) {
        const fed = await this.ctx.federated.federatedEvaluate(round);
        if (fed.summary) record.federated = fed.summary;
        record.bytesDown += fed.bytesDown;
      }
      if (robustness && round === this.ctx.config.rounds) await robustness;
      else if (robustness) this.deferRobustness(round, record, robustness);
      // Late results that arrived while the round was being aggregated and evaluated are recorded too.
      rejected.push(...collector.rejected);
      rejectedNotListed += collector.rejectedNotListed;
      if (rejectedNotListed > 0) record.rejectedNotListed = rejectedNotListed;
      this.ctx.collector = undefined;
      this.ctx.guard = undefined;
      record.durationMs = Date.now() - started;
      return record;
    }
  }

  /** The poisoning defences for one attempt of plain updates: weight cap and adaptive norm bound (update-guard.ts). */
  updateGuard(selected: string[]): UpdateGuard {
    const cap = Math.min(this.ctx.config.maxExamplesPerSite, this.ctx.config.train.maxExamples ?? Infinity);
    return new UpdateGuard({
      // DP clips every update and must not make data-dependent choices; secure aggregation hides the norms (sites clip).
      normBoundMultiple: this.ctx.config.dp || this.ctx.config.secureAggregation ? 0 : this.ctx.config.normBoundMultiple,
      exampleWeightCap: this.ctx.config.secureAggregation ? 0 : this.ctx.config.exampleWeightCap,
      previousMedianNorm: this.ctx.report.rounds.at(-1)?.updateNorms?.median,
      announced: selected.map((id) => Math.min(this.ctx.sites.get(id)?.numExamples ?? 0, cap)),
    });
  }

  /** Keeps a non-final round's robustness evaluation running past the round (never an unhandled rejection). */
  deferRobustness(round: number, record: RoundRecord, robustness: Promise<void>): void {
    this.pendingRobustness.push({ round, record, outcome: robustness.then(() => ({}), (error: unknown) => ({ error })) });
  }

  /**
   * Waits for the robustness evaluation of an earlier round, which then is in that round's record (and in
   * the next checkpoint and report); its failure fails the run as an in-round failure would.
   */
  async settleRobustness(before = Infinity): Promise<void> {
    while (this.pendingRobustness.length > 0 && this.pendingRobustness[0].round < before) {
      const pending = this.pendingRobustness.shift()!;
      const { error } = await pending.outcome;
      if (error) throw error;
      if (pending.record.robustness) this.ctx.emit({ type: 'robustness-end', round: pending.round, robustness: pending.record.robustness });
    }
  }
}
