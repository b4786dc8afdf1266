import type { RunReport } from '@fedtune/shared';
import { pct } from './format.ts';

/** How far below the pretrained model a final model may be before the run's end says so (half a point: not noise). */
const DROP = 0.005;

/**
 * A warning line when the run's final model is less accurate on the holdout than the model it started from
 * (undefined otherwise). Under client-level DP it names the usual cause: too few sites per round for the noise.
 */
export function accuracyDropWarning(report: Pick<RunReport, 'pretrained' | 'final' | 'rounds' | 'config'>): string | undefined {
  const before = report.pretrained?.accuracy;
  const after = report.final?.accuracy;
  if (typeof before !== 'number' || typeof after !== 'number' || !(after < before - DROP)) return undefined;
  const line = `warning: the final model is less accurate than the pretrained one (${pct(before).trim()} → ${pct(after).trim()} on the holdout)`;
  const dp = (report.config as { dp?: { noiseMultiplier?: number } } | undefined)?.dp;
  if (!dp) return `${line}: the pretrained model may serve better`;
  const perRound = report.rounds.length ? Math.round(report.rounds.reduce((s, r) => s + r.selected.length, 0) / report.rounds.length) : 0;
  return `${line}: with client-level DP the noise added to the mean of ${perRound} site updates per round swamps them; DP-FedAvg needs many sites per round (--sites, --fraction) or less noise (--dp-noise)`;
}
