import type { RunContext } from './run-context.ts';
import { clipText, FedtuneError, deriveSeed, encodeWeights, SeededRandom, siteAccuracySummary, type RoundRecord, type RunReport } from '@fedtune/shared';
import { EvaluationCollector, evaluationWeights } from './evaluation-collector.ts';
import { fitFederatedTemperature, type CalibrationAnswer } from './federated-calibration.ts';
import { SiteReportRound, siteReportInstruction, siteReportTerms } from './site-report-round.ts';
import { pacedFanOut } from '../transport/paced-fan-out.ts';
import { instructionModel } from './model-delivery.ts';

/** Federated evaluation, federated temperature calibration and the final per-site report: questions to the sites about the global model. */
/** A federated temperature fit's whole time, in round timeouts: an honest fit asks ~7 questions of one forward pass each. */
export const FEDERATED_CALIBRATION_BUDGET = 2;

export class FederatedEvaluation {
  constructor(private readonly ctx: RunContext) {}

  /**
   * The sites asked for a federated evaluation: a seeded sample of ceil(evaluationFraction × joined), at most
   * maxEvaluationSites (0 = no cap), at least one, in canonical order; sites cooling down after giving no
   * answer (unresponsive-sites.ts) are not asked; sites still busy with a fit the quorum wait cut off are.
   */
  evaluationSample(round: number): string[] {
    const ids = this.ctx.unresponsive.evaluable(this.ctx.sites.ids(), round);
    const cap = this.ctx.config.maxEvaluationSites > 0 ? this.ctx.config.maxEvaluationSites : Infinity;
    const k = Math.min(cap, Math.max(1, Math.ceil(this.ctx.config.evaluationFraction * ids.length)));
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: a fast path (ids() is sorted: all k = ids.length of them, shuffled and sorted, are ids).
    if (k >= ids.length) return ids;
    const rng = new SeededRandom(deriveSeed(this.ctx.config.seed, 'evaluate', round));
    return rng.shuffle([...ids]).slice(0, k).sort();
  }

  /**
   * Sends the current global model to `ids` for evaluation on their test splits (and, with `calibration`,
   * the temperature-scaling sums over their validation splits) and waits for their answers.
   */
  async collectEvaluations(round: number, ids: string[], calibration?: { betas: number[] }, timeoutMs = this.ctx.config.roundTimeoutMs): Promise<{ collector: EvaluationCollector; bytesDown: number }> {
    const weightsBytes = encodeWeights({ manifest: this.ctx.options.model.manifest, arrays: this.ctx.globalWeights });
    const collector = new EvaluationCollector(round, ids, timeoutMs);
    // The global model after round `round` (model adoption may have kept the previous weights: a new version all the same).
    const modelVersion = round;
    collector.modelVersion = modelVersion;
    this.ctx.evaluation = collector;
    let bytesDown = 0;
    await pacedFanOut(ids, (siteId) => {
      const site = this.ctx.sites.get(siteId);
      if (!site || site.link.closed) return void collector.drop(siteId);
      bytesDown += this.ctx.sendTopology(siteId);
      const delivered = instructionModel(this.ctx.config.modelDelivery, this.ctx.modelVersions, modelVersion, this.ctx.weightsFor(site, modelVersion, weightsBytes));
      site.link.send('evaluate', {
        runId: this.ctx.config.runId,
        round,
        modelVersion,
        ...delivered.fields,
        ...(this.ctx.config.sitesKeepModel ? {} : { dropModel: true }),
        ...(calibration ? { calibration } : {}),
      });
      bytesDown += delivered.socketBytes;
      return delivered.socketBytes;
    });
    await collector.done;
    this.ctx.evaluation = undefined;
    // Sites that gave no answer sit out the next rounds' samples, as for training (unresponsive-sites.ts).
    for (const siteId of collector.silent) if (this.ctx.sites.get(siteId)) this.ctx.unresponsive.missed(siteId, round);
    return { collector, bytesDown };
  }

  /**
   * The federated evaluation of a round: the sampled sites' test-split metrics, weighted. No summary when no site
   * gave a usable answer (every one failed, left, timed out or had no test examples): an average of nothing is no
   * number, and a record holding one (NaN, null in the JSON) made the whole report unreadable to report.html.
   */
  async federatedEvaluate(round: number): Promise<{ summary: NonNullable<RoundRecord['federated']> | undefined; bytesDown: number }> {
    const { collector, bytesDown } = await this.collectEvaluations(round, this.evaluationSample(round));
    // Stryker disable next-line EqualityOperator: equivalent: the ids are a Map's keys, distinct, so < and ≤ order them alike.
    const sites = [...collector.results.values()].filter((s) => s.numExamples > 0).sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
    if (sites.length === 0) return { summary: undefined, bytesDown };
    const weight = evaluationWeights(sites, this.ctx.config.exampleWeightCap, this.ctx.options.model.holdoutSize);
    // Every site left weighs > 0: total > 0.
    const total = sites.reduce((n, s) => n + weight.get(s.siteId)!, 0);
    const accuracy = sites.reduce((n, s) => n + s.accuracy * weight.get(s.siteId)!, 0) / total;
    // The lowest accuracy, the first in id order on a tie (a stable sort of the id-ordered sites).
    const spread = siteAccuracySummary(sites);
    return {
      summary: { sites, accuracy, worstSite: spread.worst ?? undefined, p10: spread.p10 ?? undefined, mean: spread.mean ?? undefined },
      bytesDown,
    };
  }

  /**
   * The run's temperature scaling of the current global model (config `calibration.source`): on the holdout,
   * or federated on the sites' validation splits (falling back to the holdout, with a warning, when no site
   * can answer for the whole fit). Undefined when off or the model cannot fit one.
   */
  async calibrate(round: number): Promise<{ fit?: { temperature: number; source: 'holdout' | 'federated'; fittedOn: number }; warning?: string; bytesDown: number } | undefined> {
    const source = this.ctx.config.calibration.source;
    const model = this.ctx.options.model;
    if (source === 'off' || !model.fitTemperature) return undefined;
    let warning: string | undefined;
    let bytesDown = 0;
    if (source === 'federated') {
      // The whole fit has one deadline: a site that answers each question just before its timeout with sums that
      // keep the search refining held the run for ~46 questions × roundTimeoutMs (≈ 3.8 h at 300 s) before.
      const budgetMs = FEDERATED_CALIBRATION_BUDGET * this.ctx.config.roundTimeoutMs;
      const deadline = Date.now() + budgetMs;
      try {
        const fit = await fitFederatedTemperature(async (betas, participants) => {
          const answer = await this.calibrationQuery(round, betas, participants, deadline, budgetMs);
          bytesDown += answer.bytesDown;
          return answer.sums;
        }, this.ctx.config.exampleWeightCap, {
          announced: new Map(this.ctx.sites.ids().map((id) => [id, this.ctx.sites.get(id)!.numExamples])),
          ...(model.calibrationReference ? { reference: (betas) => model.calibrationReference!(this.ctx.globalWeights, betas) } : {}),
        });
        // Sites whose sums were past what a site of their (capped) count could send: held to it, and said so.
        const held = fit.bounded.length ? { warning: clipText(`federated calibration: the sums of ${fit.bounded.join(', ')} were held to their announced examples or the bounds of the participants' and the holdout's median (exampleWeightCap ${this.ctx.config.exampleWeightCap})`) } : {};
        return { fit: { temperature: fit.temperature, source, fittedOn: fit.fittedOn }, bytesDown, ...held };
      } catch (err) {
        if (!(err instanceof FedtuneError) || (err.code !== 'data' && err.code !== 'quorum_not_met' && err.code !== 'timeout')) throw err;
        warning = clipText(`federated calibration failed (${err.message}); the temperature was fitted on the coordinator's holdout`);
      }
    }
    const fit = await model.fitTemperature(this.ctx.globalWeights);
    return { fit: { ...fit, source: 'holdout' }, bytesDown, ...(warning ? { warning } : {}) };
  }

  /** One question of a federated temperature fit: the joined sites asked (`only`: those of them) get the model and the inverse temperatures. */
  async calibrationQuery(round: number, betas: readonly number[], only?: readonly string[], deadline?: number, budgetMs?: number): Promise<{ sums: ReadonlyMap<string, CalibrationAnswer>; bytesDown: number }> {
    const left = deadline === undefined ? this.ctx.config.roundTimeoutMs : Math.min(this.ctx.config.roundTimeoutMs, deadline - Date.now());
    if (left <= 0) {
      const budget = budgetMs === undefined || budgetMs < 1000 ? `${budgetMs ?? 0} ms` : `${Math.round(budgetMs / 1000)} s`;
      throw new FedtuneError('timeout', `the fit took longer than its ${budget} (${FEDERATED_CALIBRATION_BUDGET} × the round timeout)`);
    }
    const joined = this.ctx.unresponsive.evaluable(this.ctx.sites.ids(), round);
    const ids = only ? joined.filter((id) => only.includes(id)) : joined;
    const { collector, bytesDown } = await this.collectEvaluations(round, ids, { betas: [...betas] }, left);
    return { sums: collector.calibration, bytesDown };
  }

  /**
   * After the final round: every joined site evaluates the pretrained and final models on its own test split,
   * personalises its copy (and keeps it) and trains the local-only baseline as configured, and sends back
   * aggregates only (site-report-round.ts). Sites that leave or fail, or are cooling down after giving no answer
   * (unresponsive-sites.ts), are listed as missing; the run goes on.
   */
  async runSiteReport(round: number): Promise<NonNullable<RunReport['siteReport']>> {
    // Every site that took part in a round or is joined now: one that left is reported as missing.
    const ids = [...new Set([...this.ctx.sites.ids(), ...this.ctx.report.rounds.flatMap((r) => r.selected)])].sort();
    const { manifest, initialWeights } = this.ctx.options.model;
    const global = encodeWeights({ manifest, arrays: this.ctx.globalWeights });
    const pretrained = encodeWeights({ manifest, arrays: initialWeights });
    const pending = new SiteReportRound(round, ids, this.ctx.config.roundTimeoutMs, { terms: siteReportTerms(this.ctx.config), pretrainedSent: true });
    this.ctx.siteReportRound = pending;
    this.ctx.emit({ type: 'site-report-start', round, sites: ids });
    for (const siteId of ids) {
      const site = this.ctx.sites.get(siteId);
      if (!site || site.link.closed) {
        pending.fail(siteId, 'disconnected before the site report (left the run)');
        continue;
      }
      if (this.ctx.unresponsive.cooling(siteId, round)) {
        // It gave no answer in a recent round (unresponsive-sites.ts): the run does not wait for it again.
        pending.fail(siteId, `not asked: it gave no answer in a recent round (${this.ctx.unresponsive.misses(siteId)} in a row; stragglers.maxCooldownRounds)`);
        continue;
      }
      this.ctx.sendTopology(siteId);
      site.link.send('siteReport', siteReportInstruction(this.ctx.config, round, siteId, this.ctx.trainSettings(round), { global, pretrained }));
    }
    await pending.done;
    this.ctx.siteReportRound = undefined;
    return pending.section(this.ctx.config);
  }
}
