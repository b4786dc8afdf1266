import { WORST_CASE_ATTACK_NAMES, type RobustnessReport, type WorstCaseAttack } from '@fedtune/shared';
import { eps, num, pct } from './format.ts';

/** "FGSM, PGD, Square": the attacks a worst-case row combines, as the summaries name them. */
function worstCaseAttacksText(attacks: readonly WorstCaseAttack[]): string {
  return attacks.map((a) => WORST_CASE_ATTACK_NAMES[a]).join(', ');
}

/**
 * The worst-case rows as one summary line: `worst case per example (FGSM, PGD): ε=0.05 72.0%, …` when every ε
 * combines the same attacks, else each ε names its own (`ε=0.06 63.0% (FGSM, PGD, Square)`).
 */
export function worstCaseLine(rows: NonNullable<RobustnessReport['worstCase']>, epsText: (row: { eps: number; epsAbsolute?: number }) => string = (r) => `ε=${eps(r.eps)}`): string {
  const sets = new Set(rows.map((r) => worstCaseAttacksText(r.attacks)));
  if (sets.size === 1) return `worst case per example (${[...sets][0]}): ${rows.map((r) => `${epsText(r)} ${pct(r.accuracy).trim()}`).join(', ')}`;
  return `worst case per example: ${rows.map((r) => `${epsText(r)} ${pct(r.accuracy).trim()} (${worstCaseAttacksText(r.attacks)})`).join(', ')}`;
}

/** One compact block: clean, calibration, noise, corruptions and adversarial accuracy. */
export function printRobustness(r: RobustnessReport, indent = '       '): void {
  console.log(`${indent}robustness on ${r.examples} holdout examples: clean ${pct(r.clean.accuracy).trim()}, macro-F1 ${num(r.clean.macroF1)}, ECE ${num(r.clean.ece)}`);
  if (r.noise.length) console.log(`${indent}  gaussian noise: ${r.noise.map((n) => `σ=${n.sigma} ${pct(n.accuracy).trim()}`).join(', ')}`);
  if (r.corruptionMean !== null) console.log(`${indent}  corruptions: mean ${pct(r.corruptionMean).trim()}${r.worstCorruption ? `, worst ${r.worstCorruption.name} ${pct(r.worstCorruption.accuracy).trim()}` : ''}`);
  const units = r.epsUnits === 'feature-std' ? ' (ε in feature standard deviations)' : '';
  // The attacks run on the first adversarialExamples of the holdout: say so, with those examples' clean accuracy, when fewer than all.
  const attacked = r.adversarialExamples > 0 && r.adversarialExamples < r.examples && (r.fgsm.length || r.pgd.length || r.square?.length);
  if (attacked) console.log(`${indent}  attacks on the first ${r.adversarialExamples} of them${r.adversarialCleanAccuracy !== null && r.adversarialCleanAccuracy !== undefined ? ` (clean ${pct(r.adversarialCleanAccuracy).trim()} there)` : ''}:`);
  if (r.fgsm.length) console.log(`${indent}  FGSM: ${r.fgsm.map((a) => `ε=${eps(a.eps)} ${pct(a.accuracy).trim()}`).join(', ')}${units}`);
  if (r.pgd.length) console.log(`${indent}  PGD-${r.pgd[0].steps}: ${r.pgd.map((a) => `ε=${eps(a.eps)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  if (r.square?.length) console.log(`${indent}  Square (black-box, ≤ ${r.square[0].queries} queries): ${r.square.map((a) => `ε=${eps(a.eps)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  if (r.worstCase?.length) console.log(`${indent}  ${worstCaseLine(r.worstCase)}`);
  if (r.calibration) {
    const c = r.calibration;
    console.log(`${indent}  ${calibrationLine(c)}`);
  }
  if (r.certification) {
    const c = r.certification;
    console.log(`${indent}  certified (σ=${c.sigma}, n=${c.n}, α=${c.alpha}): ${c.radii.map((x) => `r=${x.radius} ${pct(x.accuracy).trim()}`).join(', ')}; abstained ${pct(c.abstainRate).trim()}`);
  }
  for (const w of r.warnings) console.log(`${indent}  warning: ${w}`);
}

/**
 * The calibration line: T, where it was fitted, ECE and NLL on the holdout before → after. A temperature fitted
 * elsewhere (the sites' validation splits) can leave the holdout's NLL no better: the line says so rather than
 * showing a worse number without comment.
 */
export function calibrationLine(c: NonNullable<RobustnessReport['calibration']>): string {
  const line = `calibration: T=${c.temperature.toPrecision(4)} (${c.source}), ECE ${num(c.eceBefore)} → ${num(c.eceAfter)}, NLL ${num(c.nllBefore)} → ${num(c.nllAfter)}`;
  if (!(c.nllAfter > c.nllBefore)) return line;
  const where = c.source === 'federated' ? "the sites' validation splits" : c.source === 'holdout' ? `${c.fittedOn} holdout examples` : 'no data (given)';
  return `${line} — no better on these examples: T was fitted on ${where}`;
}
