import type { RobustnessReport } from './report-schema.ts';

export interface SelfCheckOptions {
  /** How much PGD may beat FGSM at the same ε (accuracy points as a fraction) before it is flagged. Default 0.02. */
  pgdOverFgsmTolerance?: number;
  /** How much accuracy may rise from one ε to the next before it is flagged. Default 0. */
  monotoneTolerance?: number;
  /**
   * How much lower an attack's worst case over its losses may be than its first loss alone (accuracy points
   * as a fraction) before it is flagged — when the cross-entropy is saturated on more than this share of the
   * attacked examples too (`saturatedShare`). Default 0.05.
   */
  lossGapTolerance?: number;
  /**
   * How much lower the black-box Square Attack's accuracy may be than PGD's at the same ε (accuracy points as a
   * fraction) before it is flagged: a gradient-free attack beating the gradient attack means the gradients
   * mislead PGD. Default 0.02.
   */
  blackBoxTolerance?: number;
}

/** A number for a message: 4 significant digits, no float noise (0.1 rather than 0.10000000000000002). */
const round = (x: number) => Number(x.toPrecision(4));

type Checked = Pick<RobustnessReport, 'fgsm' | 'pgd' | 'adversarialCleanAccuracy'> & Partial<Pick<RobustnessReport, 'pgdL2' | 'square' | 'saturatedShare'>>;

/**
 * The self-checks of an adversarial evaluation. A violation is the classic sign of gradient masking or a
 * broken evaluation, and is reported, never hidden:
 *   - robust accuracy must not rise with ε (per attack);
 *   - PGD's accuracy must not exceed FGSM's at the same ε by more than noise (PGD weaker than FGSM);
 *   - accuracy at ε = 0 (`eps0Accuracy`, the attack path run with ε = 0) must equal the clean accuracy of
 *     the attacked subset;
 *   - with several attack losses, the later ones must not fool many examples the first (the cross-entropy)
 *     left standing where the cross-entropy is saturated (`saturatedShare`: the true class's probability is 1 in
 *     float32 on many examples): gradient masking that the worst case over the losses (the reported accuracy)
 *     has already seen through. Without saturation such a gap is two attacks finding different examples (their
 *     union is the worst case), not masking, and is not flagged; a report without `saturatedShare` (an older
 *     one) is judged on the gap alone;
 *   - a black-box attack (Square: model outputs only) must not beat PGD at the same ε by more than noise: if it
 *     does, the gradients mislead PGD (masked or obfuscated gradients);
 *   - PGD's steps must be able to travel its ε (steps × stepSize ≥ ε): otherwise it attacks a smaller ball than
 *     the row says, and its accuracy overstates the model's robustness at that ε.
 */
export function robustnessWarnings(report: Checked, eps0Accuracy: number | null, options: SelfCheckOptions = {}): string[] {
  const tolPgd = options.pgdOverFgsmTolerance ?? 0.02;
  const tolMono = options.monotoneTolerance ?? 0;
  const tolLoss = options.lossGapTolerance ?? 0.05;
  const tolBlackBox = options.blackBoxTolerance ?? 0.02;
  const warnings: string[] = [];
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  for (const [name, rows] of [['FGSM', report.fgsm], ['PGD', report.pgd], ['PGD-L2', report.pgdL2 ?? []], ['Square', report.square ?? []]] as const) {
    const sorted = [...rows].sort((a, b) => a.eps - b.eps);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].accuracy > sorted[i - 1].accuracy + tolMono) {
        warnings.push(`${name} accuracy rises with ε: ${pct(sorted[i - 1].accuracy)} at ε=${sorted[i - 1].eps} but ${pct(sorted[i].accuracy)} at ε=${sorted[i].eps} (gradient masking?)`);
      }
    }
    if (report.adversarialCleanAccuracy !== null) {
      for (const r of sorted) {
        if (r.accuracy > report.adversarialCleanAccuracy + tolMono) {
          warnings.push(`${name} accuracy at ε=${r.eps} (${pct(r.accuracy)}) exceeds the clean accuracy of the same examples (${pct(report.adversarialCleanAccuracy)})`);
        }
      }
    }
  }
  for (const p of report.pgd) {
    const f = report.fgsm.find((r) => r.eps === p.eps);
    if (f && p.accuracy > f.accuracy + tolPgd) {
      warnings.push(`PGD is weaker than FGSM at ε=${p.eps}: ${pct(p.accuracy)} vs ${pct(f.accuracy)} (gradient masking, or too few/small PGD steps: ${p.steps} × ${p.stepSize})`);
    }
  }
  // Stryker disable next-line ArrayDeclaration: equivalent: a stand-in row has no ε that any PGD row has.
  for (const s of report.square ?? []) {
    const p = report.pgd.find((r) => r.eps === s.eps);
    if (p && s.accuracy < p.accuracy - tolBlackBox) {
      warnings.push(`the black-box Square attack beats PGD at ε=${s.eps}: ${pct(s.accuracy)} vs ${pct(p.accuracy)} (gradient masking: PGD's gradients mislead it; the robust accuracy is at most ${pct(s.accuracy)})`);
    }
  }
  const saturated = report.saturatedShare;
  for (const [name, rows] of [['FGSM', report.fgsm], ['PGD', report.pgd], ['PGD-L2', report.pgdL2 ?? []]] as const) {
    for (const r of rows) {
      const first = r.byLoss?.[0];
      if (first && first.accuracy > r.accuracy + tolLoss && (saturated === undefined || saturated > tolLoss)) {
        const names = r.byLoss!.map((s) => s.loss);
        const all = `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
        const why = saturated === undefined ? '' : `; its probability of the true class rounds to 1 in float32 on ${pct(saturated)} of these examples`;
        warnings.push(`${name} at ε=${r.eps}: the ${first.loss} loss alone leaves ${pct(first.accuracy)} correct, the worst case over the ${all} losses ${pct(r.accuracy)}${why}: the ${first.loss} loss is saturated (gradient masking); the reported accuracy is the worst case`);
      }
    }
  }
  for (const [name, rows] of [['PGD', report.pgd], ['PGD-L2', report.pgdL2 ?? []]] as const) {
    for (const r of rows) {
      if (r.steps * r.stepSize < r.eps * (1 - 1e-9)) {
        warnings.push(`${name} at ε=${r.eps} cannot reach its ε: ${r.steps} steps × ${r.stepSize} travel ${round(r.steps * r.stepSize)} at most (the usual step is 2.5·ε/steps = ${round((2.5 * r.eps) / r.steps)}): its accuracy overstates the robustness at this ε; raise the steps or the step size`);
      }
    }
  }
  if (eps0Accuracy !== null && report.adversarialCleanAccuracy !== null && Math.abs(eps0Accuracy - report.adversarialCleanAccuracy) > 1e-9) {
    warnings.push(`accuracy at ε=0 (${pct(eps0Accuracy)}) differs from the clean accuracy of the same examples (${pct(report.adversarialCleanAccuracy)}): the attack path changes the inputs`);
  }
  return warnings;
}
