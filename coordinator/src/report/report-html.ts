import { join } from 'node:path';
import { clipText, WORST_CASE_ATTACK_NAMES, type RobustnessReport, type RoundRecord, type RunReport } from '@fedtune/shared';
import { writeFileAtomic } from '@fedtune/shared/node';
import { robustnessGroupsHtml } from './robustness-groups-html.ts';
import { epsilonText, rejectionsHtml, roundsTableHtml } from './rounds-table-html.ts';
import { siteReportHtml } from './site-report-html.ts';
import { siteTrainingHtml } from './site-training-html.ts';
import { dataSummariesHtml } from './data-summaries-html.ts';
import { barChart, confusionHeatmap, escapeHtml, lineChart, PALETTE, reliabilityDiagram, type Series } from './svg-charts.ts';
import { compareSiteIds } from './compare-site-ids.ts';
import { MAX_POINTS_PER_LINE, thinnedChartNote } from './thin-series.ts';

/** A run report with the optional robustness sections (per round and for the final model). */
export type ReportWithRobustness = Omit<RunReport, 'rounds'> & {
  rounds: Array<RoundRecord & { robustness?: RobustnessReport }>;
  finalRobustness?: RobustnessReport;
};

/** The ε whose PGD accuracy stands for "adversarial" in the per-round plot: the task's headline ε (report.headlineEps), else 0.1 if evaluated, else the smallest. */
function headlineEps(r: RobustnessReport): { eps: number; accuracy: number; attack: string } | undefined {
  const rows = r.pgd.length ? r.pgd : r.fgsm;
  if (rows.length === 0) return undefined;
  const row = rows.find((x) => x.eps === r.headlineEps) ?? rows.find((x) => x.eps === 0.1) ?? [...rows].sort((a, b) => a.eps - b.eps)[0];
  return { eps: row.eps, accuracy: row.accuracy, attack: r.pgd.length ? 'PGD' : 'FGSM' };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(1)}%`);

/** A section with a chart (`body`), a note above it and any HTML under it (`after`, e.g. a thinned chart's note). */
function section(title: string, body: string, note = '', after = ''): string {
  if (!body) return '';
  return `<section><h2>${escapeHtml(title)}</h2>${note ? `<p class="note">${escapeHtml(note)}</p>` : ''}<div class="chart">${body}</div>${after}</section>`;
}

/** A per-round line chart with at most MAX_POINTS_PER_LINE points per line, and the note saying so when it thinned. */
function perRoundChart(series: Series[], opts: Omit<Parameters<typeof lineChart>[1], 'maxPointsPerLine'>): { chart: string; note: string } {
  return { chart: lineChart(series, { ...opts, maxPointsPerLine: MAX_POINTS_PER_LINE }), note: thinnedChartNote(series) };
}

function accuracyPerRound(report: ReportWithRobustness): { chart: string; note: string } {
  const clean: Series = { name: 'clean', points: [] };
  const noisy: Series = { name: 'noise (mean σ)', points: [] };
  const corrupted: Series = { name: 'corruptions (mean)', points: [] };
  const adversarial: Series = { name: 'adversarial', points: [] };
  if (report.pretrained) clean.points.push([0, report.pretrained.accuracy]);
  let advLabel = '';
  for (const r of report.rounds) {
    clean.points.push([r.round, r.global.accuracy]);
    const rob = r.robustness;
    if (!rob) continue;
    if (rob.noise.length) noisy.points.push([r.round, rob.noise.reduce((s, n) => s + n.accuracy, 0) / rob.noise.length]);
    if (rob.corruptionMean !== null) corrupted.points.push([r.round, rob.corruptionMean]);
    const h = headlineEps(rob);
    if (h) {
      adversarial.points.push([r.round, h.accuracy]);
      advLabel = `${h.attack} ε=${h.eps}`;
    }
  }
  if (advLabel) adversarial.name = advLabel;
  const series = [clean, noisy, corrupted, adversarial].filter((s) => s.points.length > 0);
  return perRoundChart(series, { title: 'accuracy per round', xLabel: 'round (0 = pretrained)', y: 'zoomed-accuracy' });
}

function lossPerRound(report: ReportWithRobustness): { chart: string; note: string } {
  const points: Array<[number, number]> = report.rounds.map((r) => [r.round, r.global.loss]);
  if (report.pretrained) points.unshift([0, report.pretrained.loss]);
  return perRoundChart([{ name: 'holdout loss', points, color: PALETTE[3] }], { title: 'loss per round', xLabel: 'round (0 = pretrained)', y: 'number' });
}

function robustVsEps(rob: RobustnessReport): string {
  const series: Series[] = [];
  const start = rob.adversarialCleanAccuracy;
  for (const [name, rows, i] of [['FGSM', rob.fgsm, 0], ['PGD', rob.pgd, 1], ['Square (black-box)', rob.square ?? [], 2], ['worst case per example', rob.worstCase ?? [], 3]] as const) {
    if (!rows.length) continue;
    const pts: Array<[number, number]> = [...rows].sort((a, b) => a.eps - b.eps).map((r) => [r.eps, r.accuracy]);
    if (start !== null) pts.unshift([0, start]);
    series.push({ name, points: pts, color: PALETTE[i + 2], dashed: name !== 'PGD' });
  }
  return lineChart(series, { title: 'robust accuracy against ε', xLabel: 'ε (L∞)' });
}

function reliabilityNote(rob: RobustnessReport): string {
  const c = rob.calibration;
  const bins = `${rob.clean.reliability.length} bins; dots: mean confidence per bin`;
  return c ? `ECE ${c.eceBefore.toFixed(3)} before, ${c.eceAfter.toFixed(3)} after temperature scaling (T = ${c.temperature.toPrecision(4)}) over ${bins}` : `ECE ${rob.clean.ece.toFixed(3)} over ${bins}`;
}

function calibrationTable(c: NonNullable<RobustnessReport['calibration']>): string {
  const source = c.source === 'federated' ? 'the sites’ validation splits (federated: NLL sums only)' : c.source === 'holdout' ? 'the coordinator’s holdout' : 'given by the user';
  const rows: Array<[string, string]> = [
    ['temperature T', `${c.temperature.toPrecision(4)} (softmax(logits / T); the saved model’s logits stay raw)`],
    ['fitted on', `${source}${c.fittedOn ? `, ${c.fittedOn} examples` : ''}`],
    ['ECE before → after', `${c.eceBefore.toFixed(3)} → ${c.eceAfter.toFixed(3)}`],
    ['NLL before → after', `${c.nllBefore.toFixed(3)} → ${c.nllAfter.toFixed(3)}`],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function certifiedChart(c: NonNullable<RobustnessReport['certification']>): string {
  const points: Array<[number, number]> = [...c.radii].sort((a, b) => a.radius - b.radius).map((r) => [r.radius, r.accuracy]);
  return lineChart([{ name: 'certified accuracy', points, color: PALETTE[4] }], { title: 'certified accuracy against L2 radius', xLabel: 'radius (L2)' });
}

function certifiedNote(c: NonNullable<RobustnessReport['certification']>): string {
  return `Gaussian smoothing σ = ${c.sigma}, n0 = ${c.n0}, n = ${c.n}; each certificate holds with probability ≥ ${1 - c.alpha} (α = ${c.alpha}); ${c.examples} examples, ${pct(c.abstainRate)} abstained; no radius above ${c.maxRadius.toFixed(3)} is certifiable with these n and α`;
}

function perSite(report: ReportWithRobustness): string {
  const last = [...report.rounds].reverse().find((r) => r.federated?.sites.length);
  if (!last?.federated) return '';
  const sites = [...last.federated.sites].sort((a, b) => compareSiteIds(a.siteId, b.siteId));
  const worst = last.federated.worstSite?.siteId;
  return barChart(
    sites.map((s) => ({ label: s.siteId, value: s.accuracy, color: s.siteId === worst ? PALETTE[3] : PALETTE[0] })),
    { title: `per-site accuracy, round ${last.round}`, reference: { value: last.federated.accuracy, label: `weighted by\nexamples ${pct(last.federated.accuracy)}` } },
  );
}

function summaryTable(report: ReportWithRobustness, rob: RobustnessReport | undefined): string {
  const rows: Array<[string, string]> = [
    ['run', report.runId],
    ['status', report.status],
    ['model', `${report.model.architecture} (${report.model.parameters.toLocaleString('en')} parameters)`],
    ['backend', report.backend],
    ['rounds', String(report.rounds.length)],
    ['pretrained accuracy', pct(report.pretrained?.accuracy)],
    ['final accuracy', pct(report.final?.accuracy ?? report.rounds.at(-1)?.global.accuracy)],
  ];
  if (report.aborted) rows.push(['aborted', clipText(report.aborted)]);
  if (report.privacy) rows.push([`DP ε (δ = ${report.privacy.delta})`, `${epsilonText(report.privacy)}${report.privacy.noise ? ` (${report.privacy.noise} noise)` : ''}`]);
  if (report.terms) rows.push(['terms', `sha-256 ${report.terms.hash} signed by ${report.terms.coordinator}`]);
  if (report.audit) rows.push(['audit log', `${report.audit.count} entries, head ${report.audit.head}`]);
  if (rob) {
    const headline = rob.headlineEps === undefined ? undefined : headlineEps(rob);
    if (headline) rows.push([`headline: ${headline.attack} at ε = ${Number(headline.eps.toPrecision(3))}`, `${pct(headline.accuracy)} (ε in ${rob.epsUnits ?? 'absolute'} units${rob.epsScale !== undefined && rob.epsUnits !== 'absolute' ? `, 1 = ${Number(rob.epsScale.toPrecision(3))} absolute` : ''})`]);
    rows.push(['evaluated examples', `${rob.examples} (attacked: ${rob.adversarialExamples}${rob.attackLosses ? `; each attack ${rob.attackLosses.length > 1 ? `the worst case over the ${rob.attackLosses.join(' and ')} losses` : `on the ${rob.attackLosses[0]} loss`}` : ''})`]);
    rows.push(['macro-F1 / ECE', `${rob.clean.macroF1.toFixed(3)} / ${rob.clean.ece.toFixed(3)}`]);
    rows.push(['worst class', `${rob.clean.worstClass.label} (${pct(rob.clean.worstClass.accuracy)})`]);
    if (rob.noise.length) rows.push(['Gaussian noise', rob.noise.map((n) => `σ=${n.sigma}: ${pct(n.accuracy)}`).join(', ')]);
    if (rob.corruptionMean !== null) rows.push(['corruptions', `mean ${pct(rob.corruptionMean)}, worst ${rob.worstCorruption?.name} (${pct(rob.worstCorruption?.accuracy)})`]);
    if (rob.fgsm.length) rows.push(['FGSM', rob.fgsm.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(', ')]);
    if (rob.pgd.length) rows.push([`PGD (${rob.pgd[0].steps} × ${rob.pgd[0].stepSize})`, rob.pgd.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(', ')]);
    if (rob.square?.length) rows.push([`Square, black-box (≤ ${rob.square[0].queries} queries)`, rob.square.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(', ')]);
    if (rob.worstCase?.length) rows.push(['worst case per example (robust to every attack at its ε)', rob.worstCase.map((a) => `ε=${a.eps} (${a.attacks.map((x) => WORST_CASE_ATTACK_NAMES[x]).join(' + ')}): ${pct(a.accuracy)}`).join(', ')]);
  }
  const last = [...report.rounds].reverse().find((r) => r.federated?.sites.length);
  if (last?.federated?.worstSite) rows.push(['worst site', `${last.federated.worstSite.siteId} (${pct(last.federated.worstSite.accuracy)})`]);
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

/**
 * report.html: a self-contained page (inline SVG, inline CSS, no scripts or external assets) with accuracy
 * per round (clean, noisy, corrupted, adversarial; axis zoomed to the data), the loss per round, a rounds
 * table, the rejections, per-site training curves, robust accuracy against ε, per-corruption bars,
 * per-site accuracy, the confusion matrix, the reliability diagram and any other robustness group the report
 * holds (robustness-groups-html.ts). Robustness plots use `finalRobustness`, else the last round that has a
 * `robustness` section. The per-round charts draw at most MAX_POINTS_PER_LINE points per line (thin-series.ts: first,
 * last, lowest and highest kept), with a note under a chart that thinned; the rounds table lists every round.
 */
export function renderReportHtml(report: ReportWithRobustness): string {
  const rob = report.finalRobustness ?? [...report.rounds].reverse().find((r) => r.robustness)?.robustness;
  const robNote = rob ? `${report.finalRobustness ? 'final model' : 'latest evaluated round'}, ${rob.examples} examples` : '';
  const accuracy = accuracyPerRound(report);
  const loss = lossPerRound(report);
  const warnings = [...new Set([...(rob?.warnings ?? []), ...report.rounds.flatMap((r) => (r.robustness?.warnings ?? []).map((w) => `round ${r.round}: ${w}`))])];
  const parts = [
    `<h1>fedtune run ${escapeHtml(report.runId)}</h1>`,
    summaryTable(report, rob),
    warnings.length ? `<section class="warnings"><h2>self-check warnings</h2><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></section>` : '',
    section('Accuracy per round', accuracy.chart, 'global model on the coordinator’s held-out set; the axis is zoomed to the data', accuracy.note),
    section('Loss per round', loss.chart, 'global model’s cross-entropy on the coordinator’s held-out set', loss.note),
    roundsTableHtml(report),
    rejectionsHtml(report),
    rob ? section('Robust accuracy against ε', robustVsEps(rob), `${report.finalRobustness ? 'final model' : 'latest evaluated round'}, ${rob.adversarialExamples} attacked examples; ε = 0 is their clean accuracy`) : '',
    rob
      ? section(
          'Accuracy per corruption',
          barChart(rob.corruptions.map((c) => ({ label: c.name, value: c.accuracy, color: c.name === rob.worstCorruption?.name ? PALETTE[3] : PALETTE[0] })), {
            title: 'accuracy per corruption',
            reference: { value: rob.clean.accuracy, label: `clean ${pct(rob.clean.accuracy)}` },
          }),
          robNote,
        )
      : '',
    section('Per-site accuracy', perSite(report), 'global model on each site’s own test split (federated evaluation)'),
    siteTrainingHtml(report),
    siteReportHtml(report.siteReport),
    labelDistributionSection(report),
    dataSummariesHtml(report),
    rob ? section('Confusion matrix', confusionHeatmap(rob.clean.confusion, 'confusion matrix'), robNote) : '',
    rob ? section('Reliability diagram', reliabilityDiagram(rob.clean.reliability, 'reliability diagram', rob.calibration?.reliabilityAfter), reliabilityNote(rob)) : '',
    rob?.calibration ? section('Calibration (temperature scaling)', calibrationTable(rob.calibration)) : '',
    rob?.certification ? section('Certified robustness (randomized smoothing)', certifiedChart(rob.certification), certifiedNote(rob.certification)) : '',
    robustnessGroupsHtml(report as unknown as Record<string, unknown>),
    `<footer>generated ${escapeHtml(report.updatedAt)}</footer>`,
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedtune ${escapeHtml(report.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222;padding:0 16px}
h1{font-size:1.4em}h2{font-size:1.1em;margin:28px 0 6px}
table{border-collapse:collapse;font-size:.9em}table.rounds td,table.rejections td,table.failed td,table.terms-refusals td,table.site-training td,.robustness-group td{padding:3px 14px 3px 0;border-bottom:1px solid #eee}table.rejections td:last-child{max-width:520px;overflow-wrap:anywhere}table.sites td,table.sites th{padding:3px 12px 3px 0;vertical-align:top}th{text-align:left;padding:3px 14px 3px 0;color:#555;font-weight:500}td{padding:3px 0}
.note{color:#666;font-size:.85em;margin:0 0 6px}.chart{overflow-x:auto}.chart svg.report-chart{width:100%;height:auto;display:block}
.warnings{background:#fff4e5;border:1px solid #f0b35a;padding:6px 14px;margin-top:16px}
footer{color:#888;font-size:.8em;margin-top:32px}
</style></head><body>
${parts.filter(Boolean).join('\n')}
</body></html>
`;
}

/** Stacked bars of each site's examples per class (from `report.simulation.labelCounts`), as an inline SVG. */
function labelDistributionSection(report: ReportWithRobustness): string {
  const counts = (report.simulation as { labelCounts?: Record<string, number[]> } | undefined)?.labelCounts;
  if (!counts || Object.keys(counts).length === 0) return '';
  const sites = Object.keys(counts);
  const classes = counts[sites[0]].length;
  const max = Math.max(...sites.map((s) => counts[s].reduce((a, b) => a + b, 0)), 1);
  const rowH = 18;
  const labelW = 80;
  const width = 640;
  const colors = Array.from({ length: classes }, (_, c) => `hsl(${Math.round((360 * c) / classes)},55%,55%)`);
  const rows = sites
    .map((site, r) => {
      let x = labelW;
      const y = 20 + r * rowH;
      const bars = counts[site]
        .map((n, c) => {
          const w = ((width - labelW - 60) * n) / max;
          const rect = n > 0 ? `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${colors[c]}"><title>${escapeHtml(site)}: class ${c}: ${n}</title></rect>` : '';
          x += w;
          return rect;
        })
        .join('');
      const total = counts[site].reduce((a, b) => a + b, 0);
      return `<text x="${labelW - 6}" y="${y + rowH - 7}" text-anchor="end" font-size="11">${escapeHtml(site)}</text>${bars}<text x="${(x + 4).toFixed(1)}" y="${y + rowH - 7}" font-size="10" fill="#666">${total}</text>`;
    })
    .join('');
  const legend = colors.map((col, c) => `<rect x="${labelW + c * 34}" y="2" width="10" height="10" fill="${col}"/><text x="${labelW + c * 34 + 13}" y="11" font-size="10">${c}</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${24 + sites.length * rowH}" role="img" aria-label="label distribution per site">${legend}${rows}</svg>`;
  const sim = report.simulation as { partition?: string; attack?: { name: string; malicious: string[] } } | undefined;
  const note = `partition ${escapeHtml(String(sim?.partition ?? ''))}${sim?.attack ? `; attack ${escapeHtml(sim.attack.name)} by ${escapeHtml(sim.attack.malicious.join(', '))}` : ''}`;
  return `<section><h2>Label distribution per site</h2><p class="note">${note}</p><div class="chart">${svg}</div></section>`;
}

/** Writes `<runDir>/report.html` atomically. */
export function writeReportHtml(runDir: string, report: ReportWithRobustness): string {
  const path = join(runDir, 'report.html');
  writeFileAtomic(path, renderReportHtml(report));
  return path;
}
