import { sameEps, type RunReport } from '@fedtune/shared';

/** What a sweep keeps of a finished trial's report. */
export interface TrialMetrics {
  status: 'complete' | 'failed';
  clean: number | null;
  robust: number | null;
  ece: number | null;
  error?: string;
}

/**
 * A trial's clean accuracy (on the holdout), robust accuracy (the final robustness evaluation's PGD row at `robustEps`) and
 * ECE from its report — the saved model's, after its temperature when the run fitted one, else before. A run that did not complete, or whose robustness evaluation has no PGD row at that ε,
 * is a failed trial with the reason.
 */
export function trialMetrics(report: Pick<RunReport, 'status' | 'aborted' | 'final' | 'finalRobustness'>, robustEps: number): TrialMetrics {
  const r = report.finalRobustness;
  // Clean accuracy on the whole holdout (the run's own number), not the robustness sample's (--robustness-examples,
  // maybe a few dozen examples: it ranked trials 74 > 68 > 64 % where the holdout said 64.7 > 63.0 > 62.5 %).
  const clean = report.final?.accuracy ?? r?.clean.accuracy ?? null;
  // The saved model's ECE: after the temperature it carries (evaluate applies it), when the run fitted one.
  const ece = r?.calibration?.eceAfter ?? r?.clean.ece ?? null;
  if (report.status !== 'complete') return { status: 'failed', clean, robust: null, ece, error: `run ${report.status}: ${String(report.aborted ?? '').slice(0, 300)}` };
  const row = r?.pgd.find((p) => sameEps(p.eps, robustEps));
  if (!row) return { status: 'failed', clean, robust: null, ece, error: `the final robustness evaluation has no PGD row at ε = ${robustEps}` };
  return { status: 'complete', clean, robust: row.accuracy, ece };
}
