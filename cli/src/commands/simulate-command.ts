import { SiteFailureEcho } from '../simulation/site-failure-echo.ts';
import { accuracyDropWarning } from '../ui/accuracy-drop-warning.ts';
import { refuseMissingInputPaths } from './input-paths.ts';
import { Command, InvalidArgumentError } from 'commander';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { AUTO_THREADS_MIN_MACS_PER_EXAMPLE } from '@fedtune/client-node';
import { checkSimulationInputs, runSimulation, SIMULATION_TIMEOUTS, simulationRunConfig, type SimulationOptions } from '../simulation/run-simulation.ts';
import { MAX_LISTED_SITES, RoundProgress } from '../ui/round-progress.ts';
import { eps, pct } from '../ui/format.ts';
import { choiceOption, floatOption, intOption, keyValueOption, typedOnCommandLine } from './options.ts';
import { addRunConfigOptions, runConfigFile, runConfigFlags } from './run-config-flags.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attackNames } from '../simulation/attacks/index.ts';
import { ADVERSARIAL_DEFAULTS, digitsHeadlineEps, FedtuneError, partitionKinds, robustPreset as robustPresetSettings, robustPresetRounds, type RobustnessReport, type RunReport } from '@fedtune/shared';
import { pretrainedArchitectures, type RunConfig } from '@fedtune/coordinator';
import { printLabelDistribution } from '../ui/label-distribution.ts';
import { describeSiteData, parseSiteDataSpec } from '../simulation/simulation-site-data.ts';
import { builtinDigits, makeDirectories } from '@fedtune/shared/node';
import { siteReportTable } from '../ui/site-report-table.ts';
import { textRobustnessLines } from '../ui/text-robustness-summary.ts';
import { privacyLine } from '../ui/privacy-line.ts';

/** What the simulate command calls to run (tests pass their own to see what a command line asks for). */
export interface SimulateDeps {
  runSimulation: typeof runSimulation;
}

/**
 * The simulation a parsed `simulate` command line asks for: the federation's own options, with the run-config
 * flags typed on the command line (and `--config FILE`) layered over the schema's defaults.
 */
export function simulationOptionsFromCommand(command: Command): SimulationOptions {
  const o = command.opts();
  refuseSimulationFlagsWithoutEffect(command);
  return {
    sites: o.sites,
    task: o.task,
    out: o.out,
    transport: o.transport,
    partition: o.partition,
    featureShift: o.featureShift,
    ...(o.siteData ? { siteData: o.siteData } : {}),
    attack: o.attack,
    attackOptions: o.attackOpt,
    malicious: o.malicious,
    ...(o.dropout > 0 ? { dropout: o.dropout } : {}),
    architecture: o.arch,
    backend: o.backend,
    workers: o.workers,
    configFile: runConfigFile(command),
    config: runConfigFlags(command),
  };
}

/**
 * Simulation flags that act only with another one (the run-config flags' own check is refuseInactiveFlags):
 * typed without it they would do nothing, so they are refused with one line saying what they need.
 */
function refuseSimulationFlagsWithoutEffect(command: Command): void {
  const o = command.opts();
  const typed = (option: string) => typedOnCommandLine(command, option);
  if (!o.attack || o.attack === 'none') {
    if (typed('attackOpt')) throw new FedtuneError('config', '--attack-opt sets an option of the malicious sites\' attack: it needs --attack');
    if (typed('malicious')) throw new FedtuneError('config', '--malicious is the share of sites that run --attack: it needs --attack');
  }
  if (o.task === 'spam' && typed('featureShift')) throw new FedtuneError('config', '--no-feature-shift has no effect with --task spam: only the digits task renders its data through scanners');
  if (o.preset === 'robust' && o.task === 'spam') throw new FedtuneError('config', '--preset robust is for the digits task: it compares plain and adversarial fine-tuning of an image model under PGD and the Square Attack; the spam task\'s robustness is its text robustness (docs/text.md)');
  if (o.preset === 'robust' && o.robustness === 'never') throw new FedtuneError('config', '--preset robust compares the two arms\' final robustness: --robustness never does not apply (leave it out, or give final, every-round or K)');
}

/** `--workers`: auto or an integer ≥ 1. */
function workersOption(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('workers must be auto or an integer ≥ 1');
  return n;
}

export function simulateCommand(deps: SimulateDeps = { runSimulation }): Command {
  const command = new Command('simulate')
    .description('run a whole federation on this machine: a coordinator and N sites on a built-in task (digits, or spam e-mail with --task spam)')
    .option('--sites <n>', 'number of sites', intOption('sites', 1), 8)
    .option('--out <dir>', 'directory for runs (the report lands at DIR/<run-id>/report.json)', 'runs')
    .option('--transport <kind>', 'socket (real socket.io on loopback), memory, or auto: socket unless the sites need more open files than ulimit -n allows (2 per site), then memory', choiceOption('transport', ['auto', 'socket', 'memory'] as const), 'auto')
    .option('--task <name>', 'built-in task: digits (handwritten digits) or spam (SpamAssassin e-mail, text-cnn; docs/text.md)', choiceOption('task', ['digits', 'spam'] as const), 'digits')
    .option('--partition <spec>', `${partitionKinds().join(', ')}, or collection (--task spam: each site holds whole sub-collections of the corpus) (default: dirichlet:0.5)`)
    .option('--site-data <mode>', 'digits task: partition (disjoint shares of the 7,900-digit pool) or resample:N (virtual sites: each draws N digits with replacement, made when it is sampled and dropped after; memory flat in --sites) (default: partition up to 790 sites, else resample:40)', siteDataOption)
    .option('--no-feature-shift', "don't render each site's images (nor the holdout) through a scanner profile")
    .option('--attack <name>', `attack run by the malicious sites: ${attackNames.join(', ')}`)
    .option('--attack-opt <key=value>', 'an attack option (repeatable), e.g. sigma=2', keyValueOption, {})
    .option('--malicious <share>', 'share of sites that are malicious', floatOption('malicious', 0, 0.99), 0.2)
    .option('--dropout <p>', 'probability that a site drops out instead of answering a fit instruction: its connection closes mid-round, and it reconnects and joins again for later rounds (seeded by --seed; 0 = none)', floatOption('dropout', 0, 0.95), 0)
    .option('--arch <name>', `model architecture (${pretrainedArchitectures().join(', ')}; the spam task runs text-cnn) (default: mlp)`)
    .option('--preset <name>', 'robust: the same federation fine-tuned plainly and adversarially (on the scanners cnn-wide, 240 rounds of ≤ 250 examples per site, PGD-7 at 5/3 × the headline ε (0.10) with an ε warm-up over the first third of the rounds; on clean digits cnn-dense, 30 rounds of ≤ 500, at the headline ε; lr 0.003), side by side; --arch, --rounds, --lr, --max-examples, --average-rounds and --adv-* override it', choiceOption('preset', ['robust'] as const))
    .option('--backend <name>', 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)')
    .option('--workers <n>', `train the sites on N worker threads shared by all of them, each site's whole fit on one thread (the same weights as one thread), or auto: every core when a training example costs ≥ ${AUTO_THREADS_MIN_MACS_PER_EXAMPLE / 1e6} M multiply-accumulates (the cnn-wide, multi-step adversarial training), else 1 = the main thread (default: auto)`, workersOption);
  addRunConfigOptions(command, { '--min-sites': 'every site (--sites)', '--round-timeout': String(SIMULATION_TIMEOUTS.roundTimeoutMs / 1000) });
  return command.action(async (o) => {
    refuseMissingInputPaths([{ option: '--config', path: o.config, kind: 'file' }]);
    const started = Date.now();
    const options = simulationOptionsFromCommand(command);
    // Ctrl-C or SIGTERM: the run stops after its round and is saved as aborted; a second Ctrl-C quits at once.
    const stopping = new AbortController();
    const stop = () => {
      console.log('stopping after the current round… (Ctrl-C again to quit at once)');
      stopping.abort();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await simulate(o, command, deps, { ...options, signal: stopping.signal }, started);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

/** The command's work once its options are read: one federation, or the robust preset's two. */
async function simulate(o: ReturnType<Command['opts']>, command: Command, deps: SimulateDeps, options: SimulationOptions, started: number): Promise<void> {
  checkSimulationInputs(options);
  const selection = await selectNodeBackend(o.backend);
  console.log(describeBackend(selection));
  let progress: RoundProgress | undefined;
  const failures = new SiteFailureEcho();
  const base: SimulationOptions = {
    ...options,
    onSiteEvent: (siteId, event) => {
      const line = failures.line(siteId, event);
      if (line) console.log(line);
    },
    onLog: (line) => console.log(line),
    onListening: (url) => console.log(`coordinator listening on ${url} (live dashboard: ${url}/, API: ${url}/api/runs)`),
    onPlan: (plan) => {
      console.log(`simulating ${o.sites} sites × ${plan.config.rounds} rounds over ${plan.transport === 'socket' ? 'socket.io on loopback' : 'the in-memory network'} (task ${o.task}, partition ${plan.partition}, seed ${plan.config.seed})`);
      if (o.task !== 'spam') console.log(describeSiteData(plan.siteData, builtinDigits().pool.y.length));
      if (Object.keys(plan.labelCounts).length <= MAX_LISTED_SITES) printLabelDistribution(plan.labelCounts);
      if (plan.malicious.length) console.log(`malicious sites: ${plan.malicious.join(', ')}`);
      const privacy = privacyLine(plan.config);
      if (privacy) console.log(privacy);
      progress = new RoundProgress(plan.config.rounds, o.sites <= MAX_LISTED_SITES);
    },
    onEngineEvent: (e) => progress?.handle(e),
  };
  if (o.preset === 'robust') {
    await robustPreset(deps, command, base, o.out);
    return;
  }
  const result = await deps.runSimulation(base);
  const { report } = result;
  const attack = report.simulation?.attack as { name: string; malicious: string[] } | undefined;
  if (attack) console.log(`attack: ${attack.name} by ${attack.malicious.join(', ')}`);
  const probes = report.final?.probes;
  if (probes) for (const [name, value] of Object.entries(probes)) console.log(`${name}: ${pct(value).trim()}`);
  if (report.status !== 'complete') {
    reportNotComplete(report);
  } else {
    console.log(
      `done in ${((Date.now() - started) / 1000).toFixed(1)} s: accuracy ${pct(report.pretrained?.accuracy).trim()} (pretrained) → ${pct(report.final?.accuracy).trim()} after ${report.rounds.length} rounds`,
    );
    const drop = accuracyDropWarning(report);
    if (drop) console.warn(drop);
    const averaged = report.rounds.at(-1)?.averagedRounds;
    console.log(`global model: ${result.runDir}/${report.final?.modelDir}${averaged ? ` (the mean of the last ${averaged} rounds' models)` : ''}`);
    for (const line of textRobustnessLines(report.textRobustness)) console.log(line);
    if (report.siteReport) {
      for (const line of siteReportTable(report.siteReport)) console.log(line);
      if (report.siteReport.mode !== 'none') console.log(`personal models (kept by each site): ${result.runDir}/sites/<site>/personal`);
    }
  }
  console.log(result.reportPath);
}


/** A run that did not complete (stopped or failed): one line with why, and the command's exit status 1. */
function reportNotComplete(report: RunReport): void {
  console.error(`run ${report.runId} ${report.status}: ${report.aborted ?? ''}`);
  process.exitCode = 1;
}

/** `--site-data partition|resample:N`. */
function siteDataOption(value: string): ReturnType<typeof parseSiteDataSpec> {
  try {
    return parseSiteDataSpec(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The adversarial settings of a side, as one line ("TRADES β=6, PGD-7 (L∞) at ε = 0.06 absolute on every example, ε warm-up 3 rounds"). */
function describeAdversarial(a: RunConfig['train']['adversarial']): string {
  if (!a) return 'no adversarial examples';
  const method = a.method === 'trades' ? `TRADES β=${a.beta ?? ADVERSARIAL_DEFAULTS.beta}, PGD-${a.steps ?? ADVERSARIAL_DEFAULTS.steps}` : a.method === 'pgd' ? `PGD-${a.steps ?? ADVERSARIAL_DEFAULTS.steps}` : 'FGSM';
  const share = a.share === 1 ? 'every example' : `${Math.round(100 * a.share)}% of each batch`;
  return `${method} (${a.norm ?? ADVERSARIAL_DEFAULTS.norm}) at ε = ${a.eps} ${a.epsUnits ?? ADVERSARIAL_DEFAULTS.epsUnits} on ${share}${a.warmupRounds ? `, ε warm-up ${a.warmupRounds} rounds` : ''}`;
}

/** Holdout digits the robust preset's final evaluation attacks (and evaluates clean), both arms. */
export const PRESET_ATTACKED_EXAMPLES = 1000;

/** A share with ± 2 binomial standard errors over `n` examples ("47.5% ±7.1"), or pct's dash. */
export function withError(p: number | undefined, n: number | undefined): string {
  if (p === undefined || !n) return pct(p);
  return `${pct(p).trim()} ±${(200 * Math.sqrt((p * (1 - p)) / n)).toFixed(1)}`;
}

/**
 * `--preset robust`: the same federation (same architecture, sites, seed and rounds) fine-tuned plainly and
 * adversarially, with the preset's settings (robustPreset) under the command line's: `--arch`, `--rounds` and
 * `--lr` override both arms, the `--adv-*` flags the adversarial arm only (the plain arm never trains adversarially).
 */
async function robustPreset(deps: SimulateDeps, command: Command, base: SimulationOptions, out: string): Promise<void> {
  const featureShift = base.featureShift !== false;
  // The run's length (the preset's, unless --rounds changes it): the preset's ε warm-up follows it.
  const rounds = simulationRunConfig({ ...base, rounds: robustPresetRounds(featureShift), trainExtras: { ...base.trainExtras, ...robustPresetSettings(featureShift).adversarial } }).rounds;
  const preset = robustPresetSettings(featureShift, rounds);
  const architecture = command.getOptionValueSource('arch') === 'cli' ? base.architecture : preset.architecture;
  const headlineEps = digitsHeadlineEps(base.featureShift !== false);
  const plainFlags = { ...base.config, train: { ...base.config?.train, adversarial: undefined } };
  const sides: Array<{ name: 'plain' | 'adversarial'; options: SimulationOptions; report?: RobustnessReport; accuracy?: number; reportPath?: string; seed?: number }> = (['plain', 'adversarial'] as const).map((name) => ({
    name,
    options: {
      ...base,
      architecture,
      rounds: preset.rounds,
      // Both arms train on at most the preset's examples per site and round (`--max-examples` overrides it).
      trainExtras: { ...base.trainExtras, maxExamples: preset.maxExamples, ...preset[name] },
      // Both arms end with the mean of their last rounds' models (`--average-rounds` overrides it).
      // The final evaluation also runs the black-box Square Attack at the headline ε: the gradient-masking check
      // (docs/robustness.md#a-black-box-check-the-square-attack); a config file's robustness.square overrides it.
      // The headline numbers are over PRESET_ATTACKED_EXAMPLES holdout digits (± 2 standard errors of about 3 points at
      // 70 %; the evaluation's default 200 left ± 6.5, and the arms' side-by-side moved by several points with the sample).
      config: { averageRounds: preset.averageRounds, ...(name === 'plain' ? plainFlags : base.config), robustness: { square: [headlineEps], examples: PRESET_ATTACKED_EXAMPLES, adversarialExamples: PRESET_ATTACKED_EXAMPLES, ...base.config?.robustness, when: base.config?.robustness?.when ?? 'final' } },
    },
  }));
  for (const side of sides) {
    const config = simulationRunConfig(side.options);
    side.seed = config.seed;
    console.log(`\n=== ${side.name} fine-tuning: ${architecture}, ${config.rounds} rounds, ${config.train.maxExamples ?? 'all'} examples per site and round, seed ${config.seed}, ${describeAdversarial(config.train.adversarial)}${config.averageRounds > 1 ? `, final model the mean of the last ${config.averageRounds} rounds` : ''} ===`);
    const r = await deps.runSimulation(side.options);
    if (r.report.status !== 'complete') {
      // Stopped (Ctrl-C) or failed: no comparison of an arm that did not finish, and no second arm.
      reportNotComplete(r.report);
      console.log(r.reportPath);
      return;
    }
    side.report = r.report.finalRobustness;
    side.accuracy = r.report.final?.accuracy;
    side.reportPath = r.reportPath;
  }
  const row = (label: string, f: (r: RobustnessReport) => number | null | undefined) =>
    console.log(`${label.padEnd(34)}${sides.map((s) => pct(s.report ? (f(s.report) ?? undefined) : undefined).padStart(14)).join('')}`);
  // An attacked share with ± 2 standard errors over the arm's attacked examples (binomial).
  const attackedRow = (label: string, f: (r: RobustnessReport) => number | null | undefined) =>
    console.log(`${label.padEnd(34)}${sides.map((s) => withError(s.report ? (f(s.report) ?? undefined) : undefined, s.report?.adversarialExamples).padStart(14)).join('')}`);
  const units = sides[0].report?.epsUnits ?? 'absolute';
  console.log(`\n${`seed ${sides[0].seed}; ε in ${units} units`.padEnd(34)}${sides.map((s) => s.name.padStart(14)).join('')}`);
  const pgdAt = (r: RobustnessReport, eps: number) => r.pgd.find((x) => x.eps === eps)?.accuracy;
  const squareAt = (r: RobustnessReport, eps: number) => r.square?.find((x) => x.eps === eps)?.accuracy;
  const worstCaseAt = (r: RobustnessReport, eps: number) => r.worstCase?.find((x) => x.eps === eps)?.accuracy;
  attackedRow(`PGD-40 at the headline ε = ${headlineEps}`, (r) => pgdAt(r, headlineEps));
  if (sides.some((s) => s.report?.square?.length)) attackedRow(`Square (black-box) at ε = ${headlineEps}`, (r) => squareAt(r, headlineEps));
  if (sides.some((s) => s.report?.worstCase?.some((w) => w.eps === headlineEps))) attackedRow(`worst case per example, ε = ${headlineEps}`, (r) => worstCaseAt(r, headlineEps));
  console.log(`${''.padEnd(34)}(± 2 standard errors over ${sides.map((s) => s.report?.adversarialExamples ?? '-').join(' / ')} attacked holdout digits)`);
  // Clean accuracy on the whole holdout (the number each arm's table ends with): the clean cost is read from it. The
  // robustness sample's own clean accuracy (--robustness-examples, which may be a few dozen digits) is shown below it.
  console.log(`${'clean accuracy (holdout)'.padEnd(34)}${sides.map((s) => pct(s.accuracy).padStart(14)).join('')}`);
  row(`clean, ${sides[0].report?.examples ?? '-'}-digit robustness sample`, (r) => r.clean.accuracy);
  row('ECE (lower is better)', (r) => r.clean.ece);
  if (sides.some((s) => s.report?.calibration)) row('ECE after temperature scaling', (r) => r.calibration?.eceAfter);
  for (const n of sides[0].report?.noise ?? []) row(`gaussian noise σ=${n.sigma}`, (r) => r.noise.find((x) => x.sigma === n.sigma)?.accuracy);
  row('corruptions (mean)', (r) => r.corruptionMean);
  for (const a of sides[0].report?.fgsm ?? []) row(`FGSM ε=${eps(a.eps)}`, (r) => r.fgsm.find((x) => x.eps === a.eps)?.accuracy);
  for (const a of sides[0].report?.pgd ?? []) row(`PGD ε=${eps(a.eps)}`, (r) => pgdAt(r, a.eps));
  const [plain, adversarial] = sides.map((s) => s.report);
  // An arm's numbers at the headline ε: PGD, Square, and the per-example worst case over every attack run there.
  const headlineOf = (r: RobustnessReport | undefined) => ({
    attacked: r?.adversarialExamples ?? null,
    cleanOnSample: r?.clean.accuracy ?? null,
    pgd: r ? (pgdAt(r, headlineEps) ?? null) : null,
    square: r ? (squareAt(r, headlineEps) ?? null) : null,
    worstCase: r ? (worstCaseAt(r, headlineEps) ?? null) : null,
  });
  makeDirectories(out);
  const path = join(out, 'robust-comparison.json');
  const comparison = {
    preset: 'robust',
    seed: sides[0].seed,
    architecture,
    rounds: simulationRunConfig(sides[0].options).rounds,
    headlineEps,
    epsUnits: units,
    headline: {
      plain: { clean: sides[0].accuracy ?? null, ...headlineOf(plain) },
      adversarial: { clean: sides[1].accuracy ?? null, ...headlineOf(adversarial) },
      // On the whole holdout: the robustness sample (--robustness-examples) may be a few dozen digits.
      cleanCost: sides[0].accuracy !== undefined && sides[1].accuracy !== undefined ? sides[0].accuracy - sides[1].accuracy : null,
    },
    sides: sides.map((s) => ({ name: s.name, seed: s.seed, train: simulationRunConfig(s.options).train.adversarial ?? null, accuracy: s.accuracy, robustness: s.report, reportPath: s.reportPath })),
  };
  writeFileSync(path, JSON.stringify(comparison, null, 2));
  console.log(path);
}
