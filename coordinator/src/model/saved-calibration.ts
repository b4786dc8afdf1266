import { join } from 'node:path';
import { readModelJsonMetadata } from './model-json-metadata.ts';
import { z } from 'zod';
import { CalibrationSource, FedtuneError, TEMPERATURE_RANGE } from '@fedtune/shared';

/**
 * The temperature a run saved with a model: `userDefinedMetadata.calibration` of its model.json
 * (`{ temperature, source, fittedOn }`). The logits stay raw (attacks see the model as trained);
 * `tf.loadLayersModel` loads the file unchanged.
 */
export const SavedCalibration = z.object({
  temperature: z.number().min(TEMPERATURE_RANGE.min).max(TEMPERATURE_RANGE.max),
  source: CalibrationSource,
  fittedOn: z.number().int().min(0),
});
export type SavedCalibration = z.infer<typeof SavedCalibration>;

/**
 * The saved temperature of the model in `dir`, or undefined when it has none. A calibration entry that is
 * not a temperature in range is refused with FedtuneError('config') rather than applied or ignored.
 */
export function readSavedCalibration(dir: string): SavedCalibration | undefined {
  const file = join(dir, 'model.json');
  const entry = readModelJsonMetadata(dir)?.calibration;
  if (entry === undefined) return undefined;
  const parsed = SavedCalibration.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FedtuneError('config', `${file}: userDefinedMetadata.calibration.${issue.path.join('.')}: ${issue.message.slice(0, 200)}`);
  }
  return parsed.data;
}
