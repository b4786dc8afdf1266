import { FedtuneError, robustnessParts } from '@fedtune/shared';
import type { RunConfig } from '@fedtune/coordinator/config';

/** The config field of each input-space part robustnessParts names. */
const PART_FIELDS: Record<string, string> = {
  noise: 'robustness.noise',
  corruptions: 'robustness.corruptions',
  FGSM: 'robustness.fgsm',
  PGD: 'robustness.pgd',
  'PGD-L2': 'robustness.pgdL2',
  Square: 'robustness.square',
};

/** Settings of the input-space attacks only (the text task's evaluation has its own: robustness.examples and seed). */
const ATTACK_SETTINGS = ['adversarialExamples', 'pgdSteps', 'pgdStepSize', 'attackLosses', 'epsUnits', 'headlineEps', 'squareQueries', 'squarePInit'] as const;

const WHY = "a text model's input is token ids, which Gaussian noise, image corruptions and gradient attacks do not perturb meaningfully (the text task's robustness is the report's textRobustness: text corruptions and word substitutions; docs/text.md)";

/**
 * Refuses, in one line (FedtuneError 'config'), the input-space robustness settings a run of a text model
 * cannot carry out: randomized smoothing (--certify) and the per-site robustness (--site-robustness) perturb
 * the inputs, and a text model's are token ids (the run aborted, or every site failed). `inputParts`: the
 * coordinator's own noise / corruptions / attacks too, which the spam task turns off (SPAM_INPUT_ROBUSTNESS_OFF)
 * and only a file or flag can turn back on, and the attacks' settings (they would change nothing).
 */
export function refuseInputSpaceRobustnessOnText(config: RunConfig, options: { inputParts: boolean }): void {
  if (config.robustness.certify !== undefined && config.robustness.when !== 'never') throw new FedtuneError('config', `--certify (robustness.certify) does not apply to a text model: randomized smoothing adds Gaussian noise to the input, and ${WHY}`);
  if (config.siteRobustness.when !== 'never') throw new FedtuneError('config', `--site-robustness ${config.siteRobustness.when} (siteRobustness.when) does not apply to a text model: it perturbs each site's test inputs, and ${WHY}`);
  if (!options.inputParts || config.robustness.when === 'never') return;
  const part = robustnessParts(config.robustness).find((p) => p in PART_FIELDS);
  if (part) throw new FedtuneError('config', `${PART_FIELDS[part]} does not apply to the spam task: ${WHY}`);
  const setting = ATTACK_SETTINGS.find((f) => config.robustness[f] !== undefined);
  if (setting) throw new FedtuneError('config', `robustness.${setting} sets the input-space attacks, which the spam task does not run: ${WHY}`);
}
