import type { TextRobustnessReport } from '@fedtune/shared';
import { pct } from './format.ts';

/** The text robustness section as terminal lines: clean accuracy, then each corruption's accuracy per severity. */
export function textRobustnessLines(report: TextRobustnessReport | undefined): string[] {
  if (!report) return [];
  const severities = report.corruptions[0]?.severities.map((s) => s.severity) ?? [];
  const lines = [
    `text robustness on ${report.examples} holdout e-mails: clean ${pct(report.clean.accuracy).trim()}, mean under corruption ${pct(report.meanCorruptedAccuracy).trim()}`,
    `  ${'corruption'.padEnd(16)}${severities.map((s) => `p=${s}`.padStart(8)).join('')}`,
    ...report.corruptions.map((c) => `  ${c.name.padEnd(16)}${c.severities.map((s) => pct(s.accuracy).padStart(8)).join('')}`),
  ];
  if (report.substitution) lines.push(`  word substitution: ${report.substitution.budgets.map((b) => `${b.budget} words ${pct(b.accuracy).trim()}`).join(', ')}`);
  return lines;
}
