import { clipText, pairedComparisonStats, robustAccuracyOf, SITE_ARMS, type PairedCounts, type SiteArm, type SiteReportResult, type SiteReportSection } from '@fedtune/shared';
import { pct } from './format.ts';

const ARM_LABELS: Record<SiteArm, string> = { pretrained: 'pretrained', localOnly: 'local-only', global: 'global', personalized: 'personalised' };

/** The arms present in a section, in report order. */
function armsOf(section: SiteReportSection): SiteArm[] {
  return SITE_ARMS.filter((arm) => section.sites.some((s) => s.arms[arm]));
}

/** `Δ local-only +1.8 ± 2.9` (points, ± NOISE_STANDARD_ERRORS paired standard errors): the personalised model against another arm. */
function comparisonCell(label: string, counts: PairedCounts | undefined, n: number, z: number): string {
  if (!counts) return '';
  const { difference, standardError } = pairedComparisonStats(counts, n);
  const sign = difference >= 0 ? '+' : '−';
  return `  Δ ${label} ${sign}${Math.abs(100 * difference).toFixed(1)} ± ${Number.isFinite(standardError) ? (100 * z * standardError).toFixed(1) : '∞'}`;
}

/**
 * The per-site table `fedtune simulate` prints at the end: per site, each arm's clean accuracy on the site's
 * own test split (and robust accuracy — PGD at the section's robustEps, the task's headline ε, else the largest ε — when
 * measured), then the worst site per arm.
 */
export function siteReportTable(section: SiteReportSection): string[] {
  const arms = armsOf(section);
  const robust = section.robustness;
  const width = robust ? 16 : 14;
  const cell = (arm: SiteReportSection['sites'][number]['arms'][SiteArm]) =>
    (robust ? `${pct(arm?.accuracy).trim()} / ${pct(robustAccuracyOf(arm, section.robustEps) ?? undefined).trim()}` : pct(arm?.accuracy).trim()).padStart(width);
  const pgdEps = section.robustEps ?? Math.max(...section.sites.flatMap((s) => s.arms.global.robust?.pgd.map((p) => p.eps) ?? []));
  const lines = [
    `per-site report (each site's own test split${robust ? `; clean / PGD ε=${pgdEps}` : ', clean accuracy'}${section.mode !== 'none' ? `; personalisation: ${section.mode}` : ''}):`,
    `${'site'.padEnd(12)}${arms.map((a) => ARM_LABELS[a].padStart(width)).join('')}`,
  ];
  const z = section.counts?.beyondNoise?.standardErrors ?? 2;
  for (const s of section.sites) {
    lines.push(
      `${s.siteId.slice(0, 11).padEnd(12)}${arms.map((a) => cell(s.arms[a])).join('')}${s.chosen ? `  (auto: ${s.chosen})` : s.adopted === false ? '  (kept global)' : ''}${comparisonCell('local-only', s.comparisons?.localOnly, s.numExamples, z)}`,
    );
  }
  lines.push(
    `${'worst site'.padEnd(12)}${arms
      .map((a) => {
        const w = section.worst[a];
        return (w ? `${w.clean.siteId.slice(0, 8)} ${pct(w.clean.accuracy).trim()}` : '-').padStart(width);
      })
      .join('')}`,
  );
  for (const a of arms) {
    const left = section.worst[a]?.robustMissing;
    if (left?.length) lines.push(`${ARM_LABELS[a]}: the worst PGD site leaves out ${clipText(left.join(', '), 300)} (no PGD at ε=${section.robustEps})`);
  }
  if (section.counts && section.counts.sites > 0) {
    const c = section.counts;
    const parts = [];
    if (section.mode !== 'none') parts.push(`personalised ≥ global on ${c.personalizedAtLeastGlobal}/${c.sites} sites`);
    if (section.localOnlyEpochs) {
      if (section.mode !== 'none') parts.push(`≥ local-only on ${c.personalizedAtLeastLocalOnly}/${c.sites}`);
      parts.push(`local-only beats global on ${c.localOnlyBeatsGlobal}/${c.sites}`);
    }
    if (parts.length) lines.push(parts.join('; '));
    const b = c.beyondNoise;
    if (b && section.mode !== 'none') {
      const vsLocal = section.localOnlyEpochs ? `worse than local-only on ${b.worseThanLocalOnly}/${c.sites}, better on ${b.betterThanLocalOnly}/${c.sites}; ` : '';
      lines.push(`beyond each test split's noise (Δ in points ± ${b.standardErrors} paired standard errors): personalised ${vsLocal}worse than global on ${b.worseThanGlobal}/${c.sites}, better on ${b.betterThanGlobal}/${c.sites}`);
    }
  }
  for (const m of section.missing) lines.push(`missing: ${m.siteId} (${m.reason})`);
  return lines;
}

/** The line `fedtune client` prints when its site report is sent. */
export function siteReportLine(result: SiteReportResult, personalModelDir?: string): string {
  const arms = SITE_ARMS.filter((a) => result.arms[a]).map((a) => `${ARM_LABELS[a]} ${pct(result.arms[a]!.accuracy).trim()}`);
  const kept = result.arms.personalized
    ? result.adopted === false
      ? '; validation preferred the global model, kept as the personal model'
      : `; personal model kept ${personalModelDir ? `in ${personalModelDir}` : 'in memory (--personal-model DIR saves it)'}`
    : '';
  return `site report (local test split, sent as aggregates only): ${arms.join(', ')}${kept}`;
}
