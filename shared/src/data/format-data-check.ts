import type { DataCheckReport, IndexFinding } from './check-dataset.ts';

const listed = (what: string, finding: IndexFinding): string =>
  finding.count === 0 ? '' : ` (${what} ${finding.indices.join(', ')}${finding.count > finding.indices.length ? ', …' : ''})`;

/**
 * The data check as short lines for the site's operator (the Node client prints them, the browser site
 * shows them): each finding with its count and the first indices, never a value from the data.
 */
export function formatDataCheck(report: DataCheckReport): string[] {
  const lines = [`data check: ${report.examples} examples, ${report.features} features per example (shape [${report.featureShape.join(', ')}])`];
  const d = report.duplicates;
  const c = report.conflictingDuplicates;
  lines.push(`  duplicates: ${d.count} exact${listed('examples', d)}; ${c.count} with the same features but different labels${listed('examples', c)}`);
  const m = report.missing;
  lines.push(`  missing values: ${m.count}${m.count ? ` in ${m.examples.count} examples${listed('examples', m.examples)}, ${m.features.count} features${listed('features', m.features)}` : ''}`);
  lines.push(`  constant features: ${report.constantFeatures.count}${listed('features', report.constantFeatures)}`);
  const e = report.outsideExpectedRange;
  if (e) lines.push(`  outside the model's input range [${e.range[0]}, ${e.range[1]}]: ${e.count} values${e.count ? ` in ${e.examples.count} examples${listed('examples', e.examples)}` : ''}`);
  const r = report.outsideRobustRange;
  if (r) lines.push(`  far outside their feature's own range: ${r.count} values${r.count ? ` in ${r.examples.count} examples${listed('examples', r.examples)}, ${r.features.count} features${listed('features', r.features)}` : ''}`);
  else lines.push("  far outside their feature's own range: not checked for image pixels (a stroke is rare at any one pixel)");
  const l = report.labels;
  lines.push(`  labels: ${JSON.stringify(l.counts)} per class; imbalance ${l.imbalanceRatio.toFixed(2)} (largest / smallest class)${l.emptyClasses.length ? `; no examples of class ${l.emptyClasses.join(', ')}` : ''}`);
  if (report.model) lines.push(report.model.fits ? `  model: fits (${report.model.expectedFeatures} features)` : `  model: does not fit: ${report.model.reason}`);
  return lines;
}
