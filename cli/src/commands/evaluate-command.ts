import { refuseMissingInputPaths } from './input-paths.ts';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BUILTIN_DIGITS_HOLDOUTS, loadModelDir, readSavedCalibration, readSavedHoldout, type BuiltinDigitsHoldout } from '@fedtune/coordinator';
import { ATTACK_LOSSES, type AttackLoss, ROBUSTNESS_DEFAULTS, corruptionNames, FedtuneError, SmoothingConfig, TEMPERATURE_RANGE, type SmoothingConfigInput, attackEpsilons, pixelCsvWarning, DEFAULT_EPSILONS, DEFAULT_L2_EPSILONS, DEFAULT_NOISE_SIGMAS, digitsHeadlineEps, evaluateRobustness, fitDatasetToModel, RobustnessEvaluationConfig, modelInterfaceOf, type Dataset, type ImputeMethod, type RobustnessOptions, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, describeBackend, readNumericCsv, selectNodeBackend, writeFileAtomic } from '@fedtune/shared/node';
import { eps, pct } from '../ui/format.ts';
import { worstCaseLine } from '../ui/robustness-summary.ts';
import { refuseCsvFlagsOnBuiltinData, refuseInactiveAttackOptions } from './evaluate-inactive-options.ts';
import { evaluatedData, evaluatedModel } from './evaluated-inputs.ts';
import { columnListOption, choiceOption, floatOption, schemaNumberOption } from './options.ts';

const smoothingDefaults = SmoothingConfig.parse({});
/** The bounds of the numeric flags: the run config's robustness fields (the same bounds as a run's evaluation). */
const checked = RobustnessEvaluationConfig.shape;

/** "none" → false, "all"/"default" → true, else a comma-separated list of numbers. */
function numberList(name: string) {
  return (value: string): boolean | number[] => {
    if (value === 'none') return false;
    if (value === 'all' || value === 'default') return true;
    const xs = value.split(',').map((s) => Number(s.trim()));
    if (xs.some((x) => !Number.isFinite(x) || x < 0)) throw new InvalidArgumentError(`${name} must be none, default, or a comma-separated list of numbers ≥ 0`);
    return xs;
  };
}

function corruptionList(value: string): boolean | string[] {
  if (value === 'none') return false;
  if (value === 'all' || value === 'default') return true;
  const names = value.split(',').map((s) => s.trim());
  const known = corruptionNames();
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) throw new InvalidArgumentError(`unknown corruption ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return names;
}

/** `--attack-loss`: the losses the attacks ascend, in order, each at most once. */
export function attackLossList(value: string): AttackLoss[] {
  const names = value.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(ATTACK_LOSSES as readonly string[]).includes(n));
  if (unknown.length) throw new InvalidArgumentError(`unknown attack loss ${unknown.map((n) => JSON.stringify(n.slice(0, 40))).join(', ')} (known: ${ATTACK_LOSSES.join(', ')})`);
  if (new Set(names).size !== names.length) throw new InvalidArgumentError('each attack loss at most once');
  return names as AttackLoss[];
}

/**
 * Which built-in held-out set `--data` names: `digits-holdout-scanned` or `digits-holdout-clean` as given, and
 * `digits-holdout` the one the model's run evaluated on (its model.json's `holdout`: the clean digits for a
 * `--no-feature-shift` run), else the scanned one (the built-in task; a pretrained checkpoint). Undefined for a CSV.
 */
export function builtinHoldoutFor(spec: string, saved: BuiltinDigitsHoldout | undefined): BuiltinDigitsHoldout | undefined {
  if (Object.hasOwn(BUILTIN_DIGITS_HOLDOUTS, spec)) return spec as BuiltinDigitsHoldout;
  return spec === 'digits-holdout' ? (saved ?? 'digits-holdout-scanned') : undefined;
}

/** The data of `--data`: a CSV file, or a built-in held-out set (`builtinHoldoutFor`). */
export function evaluationData(spec: string, labelColumn?: string, featureColumns?: readonly string[], impute?: ImputeMethod, builtin?: BuiltinDigitsHoldout): Dataset {
  if (builtin) return BUILTIN_DIGITS_HOLDOUTS[builtin] ? builtinDigits().holdout : builtinDigits().holdoutClean;
  return readNumericCsv(spec, { ...(labelColumn ? { labelColumn } : {}), ...(featureColumns ? { featureColumns } : {}), ...(impute ? { impute } : {}) });
}

/**
 * The FGSM and PGD ε `evaluate` attacks at by default, as its help says them: DEFAULT_EPSILONS, and on each
 * built-in holdout that list with the holdout's headline ε added (attackEpsilons with digitsHeadlineEps: what the
 * evaluation itself runs), e.g. 0.06 on the scanned digits.
 */
export function defaultAttackEpsText(): string {
  const builtins = Object.entries(BUILTIN_DIGITS_HOLDOUTS).map(([name, featureShift]) => `${name} ${attackEpsilons(true, digitsHeadlineEps(featureShift)).join(',')}`);
  return `${DEFAULT_EPSILONS.join(',')}; with a built-in holdout, its headline ε added: ${builtins.join('; ')}`;
}

/** Prints a short summary of a robustness report. */
export function summarizeRobustness(r: RobustnessReport): string[] {
  const lines = [
    `clean: accuracy ${pct(r.clean.accuracy).trim()}, loss ${r.clean.loss.toFixed(3)}, macro-F1 ${r.clean.macroF1.toFixed(3)}, ECE ${r.clean.ece.toFixed(3)}, worst class ${r.clean.worstClass.label} (${pct(r.clean.worstClass.accuracy).trim()}) on ${r.examples} examples`,
  ];
  if (r.noise.length) lines.push(`noise: ${r.noise.map((n) => `σ=${n.sigma} ${pct(n.accuracy).trim()}`).join(', ')}`);
  if (r.corruptions.length) lines.push(`corruptions: mean ${pct(r.corruptionMean ?? NaN).trim()}, worst ${r.worstCorruption?.name} (${pct(r.worstCorruption?.accuracy).trim()})`);
  // ε in its unit, and in absolute input units when the unit is relative.
  const epsText = (a: { eps: number; epsAbsolute?: number }) => (r.epsUnits && r.epsUnits !== 'absolute' && a.epsAbsolute !== undefined ? `ε=${eps(a.eps)} (${Number(a.epsAbsolute.toPrecision(3))} absolute)` : `ε=${eps(a.eps)}`);
  const unitsLine: Record<string, string> = {
    absolute: 'ε in absolute input units',
    'feature-std': `ε in units of each feature's standard deviation (mean ${Number((r.epsScale ?? NaN).toPrecision(3))} absolute)`,
    'data-std': `ε in units of the data's standard deviation (1 = ${Number((r.epsScale ?? NaN).toPrecision(3))} absolute)`,
  };
  const lossesText = r.attackLosses && r.attackLosses.length > 1 ? `; each attack the worst case over the ${r.attackLosses.join(' and ')} losses` : r.attackLosses ? `; attacks on the ${r.attackLosses[0]} loss` : '';
  if (r.fgsm.length || r.pgd.length || r.pgdL2?.length) lines.push(`${unitsLine[r.epsUnits ?? 'absolute']}; ${r.adversarialExamples} examples attacked${lossesText}`);
  const headline = r.headlineEps === undefined ? undefined : (r.pgd.find((a) => a.eps === r.headlineEps) ?? r.fgsm.find((a) => a.eps === r.headlineEps));
  if (headline) lines.push(`headline: ${'steps' in headline ? `PGD-${headline.steps}` : 'FGSM'} at the task's headline ${epsText(headline)}: ${pct(headline.accuracy).trim()}`);
  if (r.fgsm.length) lines.push(`FGSM: ${r.fgsm.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  // The step in ε's units, and in absolute units where those differ (data-std: 0.01 absolute by default).
  const step = r.pgd[0] ? Number(r.pgd[0].stepSize.toPrecision(3)) : 0;
  const stepAbsolute = r.pgd[0] && r.epsUnits === 'data-std' && r.epsScale ? ` = ${Number((r.pgd[0].stepSize * r.epsScale).toPrecision(3))} absolute` : '';
  if (r.pgd.length) lines.push(`PGD (${r.pgd[0].steps}×${step}${stepAbsolute}): ${r.pgd.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  if (r.square?.length) lines.push(`Square (black-box, ≤ ${r.square[0].queries} queries): ${r.square.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()} (${a.meanQueries.toFixed(0)} queries on average)`).join(', ')}`);
  if (r.worstCase?.length) lines.push(worstCaseLine(r.worstCase, epsText));
  if (r.pgdL2?.length) lines.push(`PGD-L2 (${r.pgdL2[0].steps} steps of 2.5·ε/${r.pgdL2[0].steps}): ${r.pgdL2.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  if (r.calibration) {
    const c = r.calibration;
    lines.push(`calibration: temperature ${c.temperature.toPrecision(4)} (${c.source}${c.fittedOn ? `, fitted on ${c.fittedOn} examples` : ''}): ECE ${c.eceBefore.toFixed(3)} → ${c.eceAfter.toFixed(3)}, NLL ${c.nllBefore.toFixed(3)} → ${c.nllAfter.toFixed(3)}`);
  }
  if (r.certification) {
    const c = r.certification;
    lines.push(`certified (randomized smoothing, σ=${c.sigma}, n=${c.n}, α=${c.alpha}, ${c.examples} examples): ${c.radii.map((x) => `r=${x.radius} ${pct(x.accuracy).trim()}`).join(', ')}; abstained ${pct(c.abstainRate).trim()}; largest certifiable radius ${c.maxRadius.toFixed(3)}`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  lines.push(`evaluated in ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines;
}

function radiusList(value: string): number[] {
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < 0)) throw new InvalidArgumentError('radii must be a comma-separated list of numbers ≥ 0');
  return xs;
}

/** The smoothing settings typed on the command line (the schema fills the rest), or undefined without --certify. */
function certifySettings(o: Record<string, unknown>): SmoothingConfigInput | undefined {
  const given: SmoothingConfigInput = {
    ...(o.sigma !== undefined ? { sigma: o.sigma as number } : {}),
    ...(o.n0 !== undefined ? { n0: o.n0 as number } : {}),
    ...(o.n !== undefined ? { n: o.n as number } : {}),
    ...(o.alpha !== undefined ? { alpha: o.alpha as number } : {}),
    ...(o.radii !== undefined ? { radii: o.radii as number[] } : {}),
    ...(o.certifyExamples !== undefined ? { examples: o.certifyExamples as number } : {}),
  };
  if (!o.certify) {
    if (Object.keys(given).length > 0) throw new FedtuneError('config', '--sigma, --n0, --n, --alpha, --radii and --certify-examples need --certify');
    return undefined;
  }
  return given;
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('robustness evaluation of a saved TensorFlow.js model: clean metrics and calibration (applies the temperature saved in model.json), noise, corruptions, FGSM and PGD, and with --certify randomized smoothing')
    .requiredOption('--model <dir>', 'model directory (model.json + weights.bin)')
    .requiredOption('--data <file>', "labeled CSV, or a built-in held-out set: digits-holdout (the one the model's run evaluated on, from its model.json; else the scanned digits), digits-holdout-scanned (the built-in task's, rendered by the sites' scanners) or digits-holdout-clean (unshifted digits, --no-feature-shift)")
    .option('--out <file>', 'write the report as JSON here')
    .option('--label-column <name>', 'label column of the CSV', 'label')
    .option('--feature-columns <columns>', 'CSV: only these columns are features, in this order (comma-separated)', columnListOption)
    .option('--impute <method>', "CSV: fill missing values with the feature's mean, median (of this file's own values) or zero (default: refuse data with missing values)", choiceOption('impute', ['mean', 'median', 'zero'] as const))
    .option('--examples <n>', 'examples evaluated (a seeded sample)', schemaNumberOption('examples', checked.examples), ROBUSTNESS_DEFAULTS.examples)
    .option('--adversarial-examples <n>', 'of those, how many are attacked', schemaNumberOption('adversarial-examples', checked.adversarialExamples), ROBUSTNESS_DEFAULTS.adversarialExamples)
    // A list's default is `true` ("the default list"); help shows the list itself.
    .addOption(new Option('--noise <list>', 'Gaussian noise σ list (comma-separated), "default" or "none"').argParser(numberList('noise')).default(true, DEFAULT_NOISE_SIGMAS.join(',')))
    .addOption(new Option('--corruptions <list>', 'corruption names (comma-separated), "default" or "none"').argParser(corruptionList).default(true, 'all for the input kind'))
    .addOption(new Option('--fgsm <list>', 'FGSM ε list (comma-separated), "default" or "none"').argParser(numberList('fgsm')).default(true, defaultAttackEpsText()))
    .addOption(new Option('--pgd <list>', 'PGD ε list (comma-separated), "default" or "none"').argParser(numberList('pgd')).default(true, defaultAttackEpsText()))
    .addOption(new Option('--pgd-l2 <list>', `PGD-L2 radius list (comma-separated), "default" (${DEFAULT_L2_EPSILONS.join(',')}) or "none"`).argParser(numberList('pgd-l2')).default(false, 'none'))
    .addOption(new Option('--square <list>', 'Square Attack ε list (black-box L∞: model outputs only; a check against gradient masking), "default" (the PGD list) or "none"').argParser(numberList('square')).default(false, 'none'))
    .option('--square-queries <n>', 'Square Attack: queries per example at most', schemaNumberOption('square-queries', checked.squareQueries), ROBUSTNESS_DEFAULTS.squareQueries)
    .option('--square-p-init <x>', "Square Attack: the first squares' share of the pixels (0–1)", schemaNumberOption('square-p-init', checked.squarePInit), ROBUSTNESS_DEFAULTS.squarePInit)
    .option('--pgd-steps <n>', 'PGD iterations (1–1000)', schemaNumberOption('pgd-steps', checked.pgdSteps), ROBUSTNESS_DEFAULTS.pgdSteps)
    .addOption(new Option('--pgd-step-size <x>', `PGD step size, in the units of ε (> 0, ≤ 1); default ${ROBUSTNESS_DEFAULTS.pgdStepSize} in absolute units (with --eps-units data-std: ${ROBUSTNESS_DEFAULTS.pgdStepSize} / the data's std, the same attack on the same ball)`).argParser(schemaNumberOption('pgd-step-size', checked.pgdStepSize)))
    .addOption(new Option('--attack-loss <list>', 'losses FGSM and PGD ascend, in order, each attacking what the ones before left correct: ce (cross-entropy), margin (logit margin, not saturated on confident models); the accuracy is the worst case').argParser(attackLossList).default([...ROBUSTNESS_DEFAULTS.attackLosses], ROBUSTNESS_DEFAULTS.attackLosses.join(',')))
    .option('--eps-units <units>', 'units of FGSM/PGD ε and step: absolute, feature-std (each feature\'s standard deviation) or data-std (the standard deviation of all input values); default: absolute for images, feature-std for tabular data', choiceOption('eps-units', ['absolute', 'feature-std', 'data-std'] as const))
    .option('--input-kind <kind>', 'image, tabular or auto', choiceOption('input-kind', ['auto', 'image', 'tabular'] as const), 'auto')
    .option('--seed <n>', 'seed of the sample, noise, corruptions and PGD start', schemaNumberOption('seed', checked.seed), ROBUSTNESS_DEFAULTS.seed)
    .option('--temperature <T>', 'temperature to calibrate with, instead of the one saved in model.json', floatOption('temperature', TEMPERATURE_RANGE.min, TEMPERATURE_RANGE.max))
    .option('--no-calibration', 'do not apply the temperature saved in model.json')
    .option('--certify', 'randomized smoothing: certified accuracy at L2 radii (Cohen et al. 2019)')
    .option('--sigma <x>', `certify: Gaussian noise σ (default: ${smoothingDefaults.sigma})`, schemaNumberOption('sigma', SmoothingConfig.shape.sigma))
    .option('--n0 <n>', `certify: noise samples to choose the class (default: ${smoothingDefaults.n0})`, schemaNumberOption('n0', SmoothingConfig.shape.n0))
    .option('--n <n>', `certify: noise samples to bound its probability (default: ${smoothingDefaults.n})`, schemaNumberOption('n', SmoothingConfig.shape.n))
    .option('--alpha <x>', `certify: each certificate fails with probability at most α (default: ${smoothingDefaults.alpha})`, schemaNumberOption('alpha', SmoothingConfig.shape.alpha))
    .addOption(new Option('--radii <list>', `certify: L2 radii (comma-separated) (default: ${smoothingDefaults.radii.join(',')})`).argParser(radiusList))
    .option('--certify-examples <n>', `certify: examples certified (default: ${smoothingDefaults.examples})`, schemaNumberOption('certify-examples', SmoothingConfig.shape.examples))
    .option('--backend <name>', 'tfjs backend (default: fastest available)')
    .action(async (o, command: Command) => {
      refuseInactiveAttackOptions(command, o);
      if (builtinHoldoutFor(o.data, undefined)) refuseCsvFlagsOnBuiltinData(command, o.data);
      refuseMissingInputPaths([
        { option: '--model', path: o.model, kind: 'directory' },
        { option: '--data', path: builtinHoldoutFor(o.data, undefined) ? undefined : o.data, kind: 'file' },
      ]);
      const certify = certifySettings(o);
      if (o.temperature !== undefined && o.calibration === false) throw new FedtuneError('config', '--temperature and --no-calibration contradict each other');
      // The saved temperature is read (and checked) before any work.
      const saved = o.calibration === false || o.temperature !== undefined ? undefined : readSavedCalibration(o.model);
      console.log(describeBackend(await selectNodeBackend(o.backend)));
      const model = await loadModelDir(o.model);
      try {
        // A CSV that does not fit the model (features, classes) is refused here with what does not fit.
        const builtin = builtinHoldoutFor(o.data, readSavedHoldout(o.model));
        if (o.data === 'digits-holdout' && builtin === 'digits-holdout-clean') console.log('data: the clean (unshifted) held-out digits, as the run that saved this model evaluated it (model.json: holdout digits-holdout-clean; --data digits-holdout-scanned for the scanners\' rendering)');
        const read = evaluationData(o.data, o.labelColumn, o.featureColumns, o.impute as ImputeMethod | undefined, builtin);
        const pixels = builtin ? undefined : pixelCsvWarning(read);
        if (pixels) console.warn(pixels);
        const data = fitDatasetToModel(read, modelInterfaceOf(model), o.data);
        const options: RobustnessOptions = {
          examples: o.examples,
          adversarialExamples: o.adversarialExamples,
          noise: o.noise,
          corruptions: o.corruptions,
          fgsm: o.fgsm,
          pgd: o.pgd,
          pgdL2: o.pgdL2,
          square: o.square,
          squareQueries: o.squareQueries,
          squarePInit: o.squarePInit,
          // The built-in task's headline ε is always among the attacks' ε (digits-task.ts).
          ...(builtin ? { headlineEps: digitsHeadlineEps(BUILTIN_DIGITS_HOLDOUTS[builtin]) } : {}),
          pgdSteps: o.pgdSteps,
          pgdStepSize: o.pgdStepSize,
          attackLosses: o.attackLoss,
          inputKind: o.inputKind,
          ...(o.epsUnits ? { epsUnits: o.epsUnits } : {}),
          seed: o.seed,
          ...(o.temperature !== undefined ? { calibration: { temperature: o.temperature, source: 'override' as const, fittedOn: 0 } } : {}),
          ...(saved ? { calibration: saved } : {}),
          ...(certify ? { certify } : {}),
        };
        const report = await evaluateRobustness(model, data, options);
        for (const line of summarizeRobustness(report)) console.log(line);
        if (o.out) {
          // The JSON names what it evaluated: the model's directory and hashes, the data's name or path and hash.
          const { schemaVersion, ...rest } = report;
          const named: RobustnessReport = { schemaVersion, model: evaluatedModel(o.model), data: evaluatedData(o.data, builtin), ...rest };
          writeFileAtomic(o.out, `${JSON.stringify(named, null, 2)}\n`);
          console.log(o.out);
        }
      } finally {
        model.dispose();
      }
    });
}
