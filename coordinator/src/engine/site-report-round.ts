import { clipText, deriveSeed, FedtuneError, MAX_SITE_ROBUSTNESS_POINTS, SITE_ARMS, sameEps, siteRobustEps, summarizeSiteReports, type SiteReportEntry, type SiteReportInstruction, type SiteReportResult, type SiteReportSection, type SiteReportTerms, type TrainConfig } from '@fedtune/shared';
import { EvaluationCollector } from './evaluation-collector.ts';
import type { RunConfig } from './run-config.ts';

/** Whether the run asks its sites for a per-site report after the final round (personalisation or site robustness). */
export function wantsSiteReport(config: Pick<RunConfig, 'personalization' | 'siteRobustness'>): boolean {
  return config.personalization.mode !== 'none' || config.siteRobustness.when === 'final';
}

/** Epochs of the local-only baseline: as many local epochs as a site trains over the whole run. */
export function localOnlyEpochs(config: Pick<RunConfig, 'rounds' | 'train' | 'personalization'>): number | undefined {
  return config.personalization.mode !== 'none' && config.personalization.localOnly ? config.rounds * config.train.epochs : undefined;
}

/**
 * The sites' PGD ε list with the task's headline ε (the built-in task's: 0.06 on the scanners) added, ascending, as
 * the coordinator's own robustness evaluation always includes it — so per-site and worst-site robustness are
 * reported where the task's robustness is measured. A list already at MAX_SITE_ROBUSTNESS_POINTS is kept as given.
 */
export function withHeadlineEps(pgdEps: readonly number[], headlineEps: number | undefined): number[] {
  if (headlineEps === undefined || pgdEps.some((e) => sameEps(e, headlineEps)) || pgdEps.length >= MAX_SITE_ROBUSTNESS_POINTS) return [...pgdEps];
  return [...pgdEps, headlineEps].sort((a, b) => a - b);
}

/**
 * What the per-site report asks of every site, seeds aside: the run terms' `siteReport` (run-terms-of.ts), and
 * every site's 'siteReport' instruction below — one function, so a site's check that they match holds.
 */
export function siteReportTerms(config: RunConfig): SiteReportTerms {
  const { mode, epochs, lambda, learningRate, validate, guard, guardEps, selection, folds, selectionMargin } = config.personalization;
  const { when, ...robustness } = config.siteRobustness;
  const baseline = localOnlyEpochs(config);
  return {
    ...(mode !== 'none' ? { personalization: { mode, epochs, lambda, validate, guard, guardEps, selection, folds, selectionMargin, ...(learningRate !== undefined ? { learningRate } : {}) } } : {}),
    ...(baseline ? { localOnlyEpochs: baseline } : {}),
    ...(when === 'final' ? { robustness: { ...robustness, pgdEps: withHeadlineEps(robustness.pgdEps, config.robustness.headlineEps) } } : {}),
  };
}

/** The 'siteReport' instruction for one site (its own seeds); weights are the encoded final and pretrained models. */
export function siteReportInstruction(
  config: RunConfig,
  round: number,
  siteId: string,
  train: Omit<TrainConfig, 'seed'>,
  weights: { global: Uint8Array; pretrained?: Uint8Array },
): SiteReportInstruction {
  const { robustness, ...settings } = siteReportTerms(config);
  return {
    runId: config.runId,
    round,
    modelVersion: round,
    weights: weights.global,
    ...(weights.pretrained ? { pretrained: weights.pretrained } : {}),
    train: { ...train, seed: deriveSeed(config.seed, 'site-report', siteId) },
    ...settings,
    ...(robustness ? { robustness: { ...robustness, seed: deriveSeed(config.seed, 'site-robustness') } } : {}),
  };
}

/**
 * What a site's report may hold, given what the run asked (its terms; whether the instruction carried the
 * pretrained weights): an arm or field the run did not ask for is refused ('malformed_payload'), not summarised.
 * Before (attacker review 2026-12-07), a site of a run with no personalisation and no baseline answered with
 * personalised, local-only and pretrained arms, a chosen candidate and paired comparisons; all were recorded, and
 * the run-wide counts and worst-site rows for those arms were that site's alone.
 */
export function unaskedSiteReportField(result: SiteReportResult, terms: SiteReportTerms, pretrainedSent: boolean): string | undefined {
  const mode = terms.personalization?.mode;
  const personalized = mode !== undefined;
  const baseline = terms.localOnlyEpochs !== undefined;
  const checks: Array<[boolean, string]> = [
    [result.arms.pretrained !== undefined && !pretrainedSent, 'arms.pretrained'],
    [result.arms.localOnly !== undefined && !baseline, 'arms.localOnly'],
    [result.arms.personalized !== undefined && !personalized, 'arms.personalized'],
    [result.adopted !== undefined && !personalized, 'adopted'],
    [result.chosen !== undefined && mode !== 'auto', 'chosen'],
    [result.candidates !== undefined && mode !== 'auto', 'candidates'],
    [result.comparisons?.global !== undefined && !personalized, 'comparisons.global'],
    [result.comparisons?.localOnly !== undefined && !(personalized && baseline), 'comparisons.localOnly'],
    [SITE_ARMS.some((arm) => result.arms[arm]?.robust !== undefined) && terms.robustness === undefined, 'arms.*.robust'],
  ];
  return checks.find(([bad]) => bad)?.[1];
}

/**
 * Collects the sites' reports after the final round until all answered, failed or left, or the round
 * timeout passes; remembers why each missing site is missing.
 */
export class SiteReportRound {
  private readonly collector: EvaluationCollector<SiteReportEntry>;
  private readonly reasons = new Map<string, string>();

  constructor(
    readonly round: number,
    private readonly asked: readonly string[],
    timeoutMs: number,
    /** What the run asked of every site, and whether the instruction carried the pretrained weights (unaskedSiteReportField). */
    private readonly asking: { terms: SiteReportTerms; pretrainedSent: boolean } = { terms: {}, pretrainedSent: true },
  ) {
    this.collector = new EvaluationCollector<SiteReportEntry>(round, asked, timeoutMs);
  }

  get done(): Promise<void> {
    return this.collector.done;
  }

  expects(siteId: string): boolean {
    return this.collector.expects(siteId);
  }

  /** Records a report the run waits for; refuses ('malformed_payload') one with an arm or field the run did not ask for. */
  add(siteId: string, result: SiteReportResult): void {
    const unasked = unaskedSiteReportField(result, this.asking.terms, this.asking.pretrainedSent);
    if (unasked !== undefined && this.collector.expects(siteId)) throw new FedtuneError('malformed_payload', `site report refused: ${unasked} was not asked for by this run`);
    this.collector.add({ siteId, numExamples: result.numExamples, durationMs: result.durationMs, arms: result.arms, ...(result.adopted !== undefined ? { adopted: result.adopted } : {}), ...(result.chosen ? { chosen: result.chosen } : {}), ...(result.candidates ? { candidates: result.candidates } : {}), ...(result.comparisons ? { comparisons: result.comparisons } : {}) });
  }

  /** A site that cannot answer any more (failed, left, reconnected). */
  fail(siteId: string, reason: string): void {
    // Stryker disable next-line ConditionalExpression: equivalent: a reason is only read for a site that never answered; one for a site that did is never shown.
    if (!this.collector.expects(siteId)) return;
    this.reasons.set(siteId, clipText(reason, 300));
    this.collector.drop(siteId);
  }

  section(config: RunConfig): SiteReportSection {
    // Stryker disable next-line EqualityOperator: equivalent: the ids are a Map's keys, distinct, so < and ≤ sort them alike.
    const sites = [...this.collector.results.values()].sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
    const missing = this.asked.filter((id) => !this.collector.results.has(id)).map((siteId) => ({ siteId, reason: this.reasons.get(siteId) ?? 'no report before the round timeout' }));
    const baseline = localOnlyEpochs(config);
    // The ε the sites were asked for (the run's terms), not what each sent: one site cannot move it for the others.
    const robustEps = siteRobustEps(config.robustness.headlineEps, siteReportTerms(config).robustness?.pgdEps);
    return {
      round: this.round,
      mode: config.personalization.mode,
      ...(baseline ? { localOnlyEpochs: baseline } : {}),
      robustness: config.siteRobustness.when === 'final',
      sites,
      missing,
      ...(robustEps !== undefined ? { robustEps } : {}),
      ...summarizeSiteReports(sites, robustEps),
    };
  }
}
