import { z } from 'zod';
import { AUTO_CANDIDATES, CandidateValidation, PairedCounts, PERSONALIZATION_MODES, SITE_ARMS, SiteArmMetrics, type SiteArm, type SiteReportResult } from '../messages/site-report-schemas.ts';
import { betterBeyondNoise, NOISE_STANDARD_ERRORS, worseBeyondNoise } from '../personalization/paired-comparison.ts';
import { sameEps } from '../robustness/same-eps.ts';

/** One site's line of the per-site report (what it sent, as validated). */
export const SiteReportEntry = z.object({
  siteId: z.string(),
  numExamples: z.number(),
  adopted: z.boolean().optional(),
  /** Mode 'auto': the candidate the site kept. */
  chosen: z.enum(AUTO_CANDIDATES).optional(),
  /** Mode 'auto': every candidate's scores on the site's validation split (what the choice was made on). */
  candidates: z.array(CandidateValidation).optional(),
  /** The personalised model against local-only and global, example by example on the test split (wins / losses). */
  comparisons: z.object({ localOnly: PairedCounts.optional(), global: PairedCounts.optional() }).optional(),
  durationMs: z.number(),
  arms: z.object({ pretrained: SiteArmMetrics.optional(), localOnly: SiteArmMetrics.optional(), global: SiteArmMetrics, personalized: SiteArmMetrics.optional() }),
});
export type SiteReportEntry = z.infer<typeof SiteReportEntry>;

const WorstSite = z.object({ siteId: z.string(), accuracy: z.number() });

/**
 * report.json `siteReport`: per site, the pretrained, local-only, global and personalised models on the
 * site's own test split (clean, and robust when asked), the worst site per arm, and who did not answer.
 */
export const SiteReportSection = z.object({
  round: z.number().int(),
  mode: z.enum(PERSONALIZATION_MODES),
  /** Epochs of the local-only baseline (rounds × train.epochs), when it ran. */
  localOnlyEpochs: z.number().int().optional(),
  /** Whether the arms carry robustness summaries (siteRobustness.when = 'final'). */
  robustness: z.boolean(),
  sites: z.array(SiteReportEntry),
  /** Sites asked that gave no report, with why (disconnected, failed, timed out). */
  missing: z.array(z.object({ siteId: z.string(), reason: z.string() })),
  /**
   * The ε whose PGD accuracy stands for an arm's robust accuracy (worst site, tables, plots): the task's headline ε
   * when the sites were asked to measure it (0.06 on the built-in scanners); absent: the largest ε each arm measured.
   */
  robustEps: z.number().min(0).max(1).optional(),
  /**
   * Per arm: the site with the lowest clean accuracy, and the lowest robust accuracy (PGD at robustEps, else the largest
   * ε) and its site; with robustEps, `robustMissing` lists the sites left out of that figure (no PGD row at robustEps).
   */
  worst: z.record(z.string(), z.object({ clean: WorstSite, robust: WorstSite.optional(), robustMissing: z.array(z.string()).optional() })),
  /** Sites where the personalised model's clean accuracy is ≥ the global's / the local-only's, and where local-only beats global. */
  counts: z
    .object({
      sites: z.number().int(),
      personalizedAtLeastGlobal: z.number().int(),
      personalizedAtLeastLocalOnly: z.number().int(),
      localOnlyBeatsGlobal: z.number().int(),
      /**
       * Beyond the noise of each site's test split (a paired difference of more than NOISE_STANDARD_ERRORS standard
       * errors, from the sites' wins and losses): sites where the personalised model is worse / better than the
       * local-only and than the global model. Absent without the sites' comparisons.
       */
      beyondNoise: z
        .object({
          standardErrors: z.number(),
          worseThanLocalOnly: z.number().int(),
          betterThanLocalOnly: z.number().int(),
          worseThanGlobal: z.number().int(),
          betterThanGlobal: z.number().int(),
        })
        .optional(),
    })
    .optional(),
});
export type SiteReportSection = z.infer<typeof SiteReportSection>;

/**
 * The robust accuracy an arm is ranked by: PGD at `eps` (the section's robustEps), null when the arm has no PGD row
 * there; without `eps`, at its largest ε (null when the arm has no PGD rows).
 */
export function robustAccuracyOf(arm: SiteReportResult['arms'][SiteArm] | undefined, eps?: number): number | null {
  const rows = arm?.robust?.pgd ?? [];
  if (eps !== undefined) return rows.find((r) => sameEps(r.eps, eps))?.accuracy ?? null;
  if (rows.length === 0) return null;
  return rows.reduce((a, b) => (b.eps > a.eps ? b : a)).accuracy;
}

/**
 * The section's robustEps: the headline ε when the sites were asked to measure PGD there (`askedPgdEps`, the ε list of
 * the run's site-report instruction), whatever each site sent — a site that left it out is left out of the robust
 * worst-site figure (summarizeSiteReports' `robustMissing`), it does not change the ε the others are read at.
 */
export function siteRobustEps(headlineEps: number | undefined, askedPgdEps: readonly number[] | undefined): number | undefined {
  // Stryker disable next-line ConditionalExpression: equivalent: with no headline ε, sameEps(e, undefined) is false for every e (|e − undefined| is NaN), so the result is undefined either way.
  return headlineEps !== undefined && askedPgdEps?.some((e) => sameEps(e, headlineEps)) ? headlineEps : undefined;
}

/**
 * Worst site per arm and the win counts, from the sites' reports (sorted by site id); robust accuracy at `robustEps`
 * (see robustAccuracyOf). With `robustEps`, the sites of an arm with no PGD row there are listed in `robustMissing`.
 */
export function summarizeSiteReports(sites: readonly SiteReportEntry[], robustEps?: number): Pick<SiteReportSection, 'worst' | 'counts'> {
  const worst: SiteReportSection['worst'] = {};
  for (const arm of SITE_ARMS) {
    const rows = sites.filter((s) => s.arms[arm]);
    if (rows.length === 0) continue;
    const clean = rows.reduce((w, s) => (s.arms[arm]!.accuracy < w.arms[arm]!.accuracy ? s : w));
    const robustOf = (s: SiteReportEntry) => robustAccuracyOf(s.arms[arm], robustEps);
    const robustRows = rows.filter((s) => robustOf(s) !== null);
    const robust = robustRows.length ? robustRows.reduce((w, s) => (robustOf(s)! < robustOf(w)! ? s : w)) : undefined;
    const missing = robustEps === undefined ? [] : rows.filter((s) => robustOf(s) === null).map((s) => s.siteId);
    worst[arm] = {
      clean: { siteId: clean.siteId, accuracy: clean.arms[arm]!.accuracy },
      ...(robust ? { robust: { siteId: robust.siteId, accuracy: robustOf(robust)! } } : {}),
      ...(missing.length ? { robustMissing: missing } : {}),
    };
  }
  const personal = sites.filter((s) => s.arms.personalized);
  const withLocal = sites.filter((s) => s.arms.localOnly);
  const counts =
    personal.length || withLocal.length
      ? {
          sites: sites.length,
          personalizedAtLeastGlobal: personal.filter((s) => s.arms.personalized!.accuracy >= s.arms.global.accuracy).length,
          personalizedAtLeastLocalOnly: personal.filter((s) => s.arms.localOnly && s.arms.personalized!.accuracy >= s.arms.localOnly.accuracy).length,
          localOnlyBeatsGlobal: withLocal.filter((s) => s.arms.localOnly!.accuracy > s.arms.global.accuracy).length,
          ...beyondNoiseCounts(sites),
        }
      : undefined;
  return { worst, ...(counts ? { counts } : {}) };
}

/** The sites' paired comparisons counted beyond the noise of their test splits (absent when no site sent one). */
function beyondNoiseCounts(sites: readonly SiteReportEntry[]): { beyondNoise?: NonNullable<NonNullable<SiteReportSection['counts']>['beyondNoise']> } {
  const compared = sites.filter((s) => s.comparisons);
  if (compared.length === 0) return {};
  const count = (arm: 'localOnly' | 'global', test: typeof worseBeyondNoise) => compared.filter((s) => s.comparisons![arm] && test(s.comparisons![arm]!, s.numExamples)).length;
  return {
    beyondNoise: {
      standardErrors: NOISE_STANDARD_ERRORS,
      worseThanLocalOnly: count('localOnly', worseBeyondNoise),
      betterThanLocalOnly: count('localOnly', betterBeyondNoise),
      worseThanGlobal: count('global', worseBeyondNoise),
      betterThanGlobal: count('global', betterBeyondNoise),
    },
  };
}
