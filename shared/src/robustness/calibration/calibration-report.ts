import { z } from 'zod';
import { eceFromBins, reliabilityBins } from '../metrics.ts';
import { ReliabilityBinSchema } from '../reliability-bin-schema.ts';
import { scaledProbabilities, temperatureNll } from './temperature-scaling.ts';

/** Where the temperature was fitted: the coordinator's holdout, the sites' validation splits (federated), or given by the user. */
export const CalibrationSource = z.enum(['holdout', 'federated', 'override']);
export type CalibrationSource = z.infer<typeof CalibrationSource>;

/**
 * The calibration part of a robustness report: the temperature T applied to the logits (softmax(z / T)),
 * where it was fitted, and the ECE, NLL and reliability diagram of the evaluated data before (T = 1) and after.
 */
export const CalibrationReportSchema = z.object({
  temperature: z.number().positive(),
  source: CalibrationSource,
  /** Examples the temperature was fitted on (0 when given by the user). */
  fittedOn: z.number().int().min(0),
  eceBefore: z.number().min(0),
  eceAfter: z.number().min(0),
  nllBefore: z.number().min(0),
  nllAfter: z.number().min(0),
  reliabilityAfter: z.array(ReliabilityBinSchema),
});
export type CalibrationReport = z.infer<typeof CalibrationReportSchema>;

/** ECE, NLL and the reliability diagram of `logits` (flat n×k) before and after dividing them by `temperature`. */
export function calibrationReport(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  fit: { temperature: number; source: CalibrationSource; fittedOn: number },
  bins = 15,
): CalibrationReport {
  const n = labels.length;
  const before = reliabilityBins(scaledProbabilities(logits, n, 1), labels, bins);
  const after = reliabilityBins(scaledProbabilities(logits, n, fit.temperature), labels, bins);
  return {
    temperature: fit.temperature,
    source: fit.source,
    fittedOn: fit.fittedOn,
    eceBefore: eceFromBins(before, n),
    eceAfter: eceFromBins(after, n),
    nllBefore: n ? temperatureNll(logits, labels, 1) : 0,
    nllAfter: n ? temperatureNll(logits, labels, fit.temperature) : 0,
    reliabilityAfter: after,
  };
}
