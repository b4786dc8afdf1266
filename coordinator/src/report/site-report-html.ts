import { clipText, robustAccuracyOf, SITE_ARMS, type SiteArm, type SiteReportSection } from '@fedtune/shared';
import { escapeHtml, groupedBarChart } from './svg-charts.ts';

const ARM_LABELS: Record<SiteArm, string> = { pretrained: 'pretrained', localOnly: 'local-only', global: 'global', personalized: 'personalised' };
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(1)}%`);

/**
 * report.html's per-site section (report.json `siteReport`): a table of every site × arm (clean, and noise /
 * corruptions / PGD when measured), the worst site per arm, who is missing, and grouped bars per site.
 */
export function siteReportHtml(section: SiteReportSection | undefined): string {
  if (!section || section.sites.length + section.missing.length === 0) return '';
  const arms = SITE_ARMS.filter((a) => section.sites.some((s) => s.arms[a]));
  const maxEps = section.robustEps ?? Math.max(0, ...section.sites.flatMap((s) => s.arms.global.robust?.pgd.map((p) => p.eps) ?? []));
  const cell = (arm: SiteReportSection['sites'][number]['arms'][SiteArm]) => {
    if (!arm) return '<td>–</td>';
    const r = arm.robust;
    const robust = r ? `<br><small>noise ${pct(r.noiseMean)} · corr. ${pct(r.corruptionMean)} · PGD ${pct(robustAccuracyOf(arm, section.robustEps))}</small>` : '';
    return `<td>${pct(arm.accuracy)}${robust}</td>`;
  };
  /** Mode 'auto': every candidate's validation accuracy (and guard accuracy), the chosen one in bold. */
  const candidates = (site: SiteReportSection['sites'][number]) =>
    site.candidates?.length
      ? `<br><small>validation: ${site.candidates
          .map((c) => {
            const text = `${escapeHtml(c.candidate)} ${pct(c.accuracy)}${c.robustAccuracy !== undefined ? ` (guard ${pct(c.robustAccuracy)})` : ''}`;
            return c.candidate === site.chosen ? `<b>${text}</b>` : text;
          })
          .join(' · ')}</small>`
      : '';
  const head = `<tr><th>site</th><th>test examples</th>${arms.map((a) => `<th>${ARM_LABELS[a]}</th>`).join('')}</tr>`;
  const rows = section.sites
    .map((s) => `<tr><th>${escapeHtml(s.siteId)}${s.adopted === false ? ' <small>(kept global)</small>' : ''}${s.chosen ? ` <small>(auto: ${escapeHtml(s.chosen)})</small>` : ''}${candidates(s)}</th><td>${s.numExamples}</td>${arms.map((a) => cell(s.arms[a])).join('')}</tr>`)
    .join('');
  const worst = `<tr><th>worst site</th><td></td>${arms
    .map((a) => {
      const w = section.worst[a];
      if (!w) return '<td>–</td>';
      const left = w.robustMissing?.length ? `<br><small>PGD leaves out ${escapeHtml(clipText(w.robustMissing.join(', '), 300))} (no PGD at ε=${section.robustEps})</small>` : '';
      return `<td>${escapeHtml(w.clean.siteId)} ${pct(w.clean.accuracy)}${w.robust ? `<br><small>PGD: ${escapeHtml(w.robust.siteId)} ${pct(w.robust.accuracy)}</small>` : ''}${left}</td>`;
    })
    .join('')}</tr>`;
  const missing = section.missing.length ? `<p class="note">missing: ${section.missing.map((m) => `${escapeHtml(m.siteId)} (${escapeHtml(m.reason)})`).join('; ')}</p>` : '';
  const c = section.counts;
  const b = c?.beyondNoise;
  const noise = b ? ` Beyond each site's test-split noise (${b.standardErrors} paired standard errors): personalised ${section.localOnlyEpochs ? `worse than local-only on ${b.worseThanLocalOnly}/${c!.sites}, better on ${b.betterThanLocalOnly}/${c!.sites}; ` : ''}worse than global on ${b.worseThanGlobal}/${c!.sites}, better on ${b.betterThanGlobal}/${c!.sites}.` : '';
  const counts = c && section.mode !== 'none' ? `<p class="note">personalised ≥ global on ${c.personalizedAtLeastGlobal}/${c.sites} sites${section.localOnlyEpochs ? `, ≥ local-only on ${c.personalizedAtLeastLocalOnly}/${c.sites}; local-only beats global on ${c.localOnlyBeatsGlobal}/${c.sites}` : ''}.${escapeHtml(noise)}</p>` : '';
  const groups = section.sites.map((s) => ({ label: s.siteId, values: arms.map((a) => s.arms[a]?.accuracy) }));
  const clean = groupedBarChart(groups, arms.map((a) => ARM_LABELS[a]), { title: 'clean accuracy per site and model' });
  const robust = section.robustness
    ? groupedBarChart(
        section.sites.map((s) => ({ label: s.siteId, values: arms.map((a) => robustAccuracyOf(s.arms[a], section.robustEps) ?? undefined) })),
        arms.map((a) => ARM_LABELS[a]),
        { title: `PGD accuracy (ε=${maxEps}) per site and model` },
      )
    : '';
  const note = `each site's own test split, after round ${section.round}; personalisation: ${section.mode}${section.localOnlyEpochs ? `; local-only: ${section.localOnlyEpochs} epochs from the pretrained model` : ''}${section.robustness ? `; robust: mean over noise σ, mean over corruptions, PGD at ε=${maxEps}` : ''}; sites sent aggregates only`;
  return `<section><h2>Per-site report</h2><p class="note">${escapeHtml(note)}</p><table class="sites">${head}${rows}${worst}</table>${counts}${missing}<div class="chart">${clean}</div>${robust ? `<div class="chart">${robust}</div>` : ''}</section>`;
}
