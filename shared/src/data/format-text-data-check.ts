import type { IndexFinding } from './check-dataset.ts';
import type { TextDataCheckReport } from './check-text-dataset.ts';

const listed = (finding: IndexFinding): string =>
  finding.count === 0 ? '' : ` (examples ${finding.indices.join(', ')}${finding.count > finding.indices.length ? ', …' : ''})`;

/** The text data check as short lines for the site's operator: counts and the first indices, never a text. */
export function formatTextDataCheck(report: TextDataCheckReport): string[] {
  const d = report.duplicates;
  const c = report.conflictingDuplicates;
  const l = report.labels;
  return [
    `data check: ${report.examples} texts`,
    `  duplicates: ${d.count} exact${listed(d)}; ${c.count} with the same text but different labels${listed(c)}`,
    `  empty texts: ${report.empty.count}${listed(report.empty)}`,
    `  labels: ${JSON.stringify(l.counts)} per class; imbalance ${l.imbalanceRatio.toFixed(2)} (largest / smallest class)${l.emptyClasses.length ? `; no examples of class ${l.emptyClasses.join(', ')}` : ''}`,
  ];
}
