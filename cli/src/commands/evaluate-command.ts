import { Command, InvalidArgumentError, Option } from 'commander';
import { loadModelDir } from '@fedtune/coordinator';
import { corruptionNames, DEFAULT_EPSILONS, DEFAULT_L2_EPSILONS, DEFAULT_NOISE_SIGMAS, digitsHeadlineEps, evaluateRobustness, fitDatasetToModel, modelInterfaceOf, type Dataset, type RobustnessOptions, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, describeBackend, readCsvDataset, selectNodeBackend, writeFileAtomic } from '@fedtune/shared/node';
import { pct } from '../ui/format.ts';
import { choiceOption, intOption } from './options.ts';

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

/** The data of `--data`: a CSV file, or `digits-holdout` (the built-in task's held-out set). */
export function evaluationData(spec: string, labelColumn?: string): Dataset {
  return spec === 'digits-holdout' ? builtinDigits().holdout : readCsvDataset(spec, { labelColumn });
}

/** Prints a short summary of a robustness report. */
export function summarizeRobustness(r: RobustnessReport): string[] {
  const lines = [
    `clean: accuracy ${pct(r.clean.accuracy).trim()}, loss ${r.clean.loss.toFixed(3)}, macro-F1 ${r.clean.macroF1.toFixed(3)}, ECE ${r.clean.ece.toFixed(3)}, worst class ${r.clean.worstClass.label} (${pct(r.clean.worstClass.accuracy).trim()}) on ${r.examples} examples`,
  ];
  if (r.noise.length) lines.push(`noise: ${r.noise.map((n) => `σ=${n.sigma} ${pct(n.accuracy).trim()}`).join(', ')}`);
  if (r.corruptions.length) lines.push(`corruptions: mean ${pct(r.corruptionMean ?? NaN).trim()}, worst ${r.worstCorruption?.name} (${pct(r.worstCorruption?.accuracy).trim()})`);
  // ε in its unit, and in absolute input units when the unit is relative.
  const epsText = (a: { eps: number; epsAbsolute?: number }) => (r.epsUnits && r.epsUnits !== 'absolute' && a.epsAbsolute !== undefined ? `ε=${a.eps} (${Number(a.epsAbsolute.toPrecision(3))} absolute)` : `ε=${a.eps}`);
  const unitsLine: Record<string, string> = {
    absolute: 'ε in absolute input units',
    'feature-std': `ε in units of each feature's standard deviation (mean ${Number((r.epsScale ?? NaN).toPrecision(3))} absolute)`,
    'data-std': `ε in units of the data's standard deviation (1 = ${Number((r.epsScale ?? NaN).toPrecision(3))} absolute)`,
  };
  if (r.fgsm.length || r.pgd.length || r.pgdL2?.length) lines.push(`${unitsLine[r.epsUnits ?? 'absolute']}; ${r.adversarialExamples} examples attacked`);
  const headline = r.headlineEps === undefined ? undefined : (r.pgd.find((a) => a.eps === r.headlineEps) ?? r.fgsm.find((a) => a.eps === r.headlineEps));
  if (headline) lines.push(`headline: ${'steps' in headline ? `PGD-${headline.steps}` : 'FGSM'} at the task's headline ${epsText(headline)}: ${pct(headline.accuracy).trim()}`);
  if (r.fgsm.length) lines.push(`FGSM: ${r.fgsm.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  if (r.pgd.length) lines.push(`PGD (${r.pgd[0].steps}×${r.pgd[0].stepSize}): ${r.pgd.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  if (r.pgdL2?.length) lines.push(`PGD-L2 (${r.pgdL2[0].steps} steps of 2.5·ε/${r.pgdL2[0].steps}): ${r.pgdL2.map((a) => `${epsText(a)} ${pct(a.accuracy).trim()}`).join(', ')}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  lines.push(`evaluated in ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines;
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('robustness evaluation of a saved TensorFlow.js model: clean metrics and calibration, noise, corruptions, FGSM and PGD')
    .requiredOption('--model <dir>', 'model directory (model.json + weights.bin)')
    .requiredOption('--data <file>', 'labeled CSV, or digits-holdout for the built-in task\'s held-out set')
    .option('--out <file>', 'write the report as JSON here')
    .option('--label-column <name>', 'label column of the CSV', 'label')
    .option('--examples <n>', 'examples evaluated (a seeded sample)', intOption('examples', 1), 500)
    .option('--adversarial-examples <n>', 'of those, how many are attacked', intOption('adversarial-examples', 0), 200)
    // A list's default is `true` ("the default list"); help shows the list itself.
    .addOption(new Option('--noise <list>', 'Gaussian noise σ list (comma-separated), "default" or "none"').argParser(numberList('noise')).default(true, DEFAULT_NOISE_SIGMAS.join(',')))
    .addOption(new Option('--corruptions <list>', 'corruption names (comma-separated), "default" or "none"').argParser(corruptionList).default(true, 'all for the input kind'))
    .addOption(new Option('--fgsm <list>', 'FGSM ε list (comma-separated), "default" or "none"').argParser(numberList('fgsm')).default(true, DEFAULT_EPSILONS.join(',')))
    .addOption(new Option('--pgd <list>', 'PGD ε list (comma-separated), "default" or "none"').argParser(numberList('pgd')).default(true, DEFAULT_EPSILONS.join(',')))
    .addOption(new Option('--pgd-l2 <list>', 'PGD-L2 radius list (comma-separated), "default" or "none"').argParser(numberList('pgd-l2')).default(false, `none; default: ${DEFAULT_L2_EPSILONS.join(',')}`))
    .option('--pgd-steps <n>', 'PGD iterations', intOption('pgd-steps', 1), 40)
    .option('--pgd-step-size <x>', 'PGD step size', Number, 0.01)
    .option('--eps-units <units>', 'units of FGSM/PGD ε and step: absolute, feature-std (each feature\'s standard deviation) or data-std (the standard deviation of all input values); default: absolute for images, feature-std for tabular data', choiceOption('eps-units', ['absolute', 'feature-std', 'data-std'] as const))
    .option('--input-kind <kind>', 'image, tabular or auto', choiceOption('input-kind', ['auto', 'image', 'tabular'] as const), 'auto')
    .option('--seed <n>', 'seed of the sample, noise, corruptions and PGD start', intOption('seed'), 0)
    .option('--backend <name>', 'tfjs backend (default: fastest available)')
    .action(async (o) => {
      console.log(describeBackend(await selectNodeBackend(o.backend)));
      const model = await loadModelDir(o.model);
      try {
        // A CSV that does not fit the model (features, classes) is refused here with what does not fit.
        const data = fitDatasetToModel(evaluationData(o.data, o.labelColumn), modelInterfaceOf(model), o.data);
        const options: RobustnessOptions = {
          examples: o.examples,
          adversarialExamples: o.adversarialExamples,
          noise: o.noise,
          corruptions: o.corruptions,
          fgsm: o.fgsm,
          pgd: o.pgd,
          pgdL2: o.pgdL2,
          // The built-in task's headline ε is always among the attacks' ε (digits-task.ts).
          ...(o.data === 'digits-holdout' ? { headlineEps: digitsHeadlineEps(true) } : {}),
          pgdSteps: o.pgdSteps,
          pgdStepSize: o.pgdStepSize,
          inputKind: o.inputKind,
          ...(o.epsUnits ? { epsUnits: o.epsUnits } : {}),
          seed: o.seed,
        };
        const report = await evaluateRobustness(model, data, options);
        for (const line of summarizeRobustness(report)) console.log(line);
        if (o.out) {
          writeFileAtomic(o.out, `${JSON.stringify(report, null, 2)}\n`);
          console.log(o.out);
        }
      } finally {
        model.dispose();
      }
    });
}
