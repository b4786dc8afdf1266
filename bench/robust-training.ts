/**
 * `npm run bench:robustness` (first part): the issue's robust-training targets, plain vs robust, side by side
 * in the same run with the same seed — federated fine-tuning of the robust preset's architecture (cnn-wide on the scanners, cnn-dense on clean digits)
 * over 8 simulated sites (in-memory transport), both arms the same length:
 *   - unshifted digits (`--no-feature-shift`): PGD-40 at ε = 0.1 ≥ 85% with clean ≥ 95%;
 *   - the built-in task (scanners): PGD-40 at the headline ε (digitsHeadlineEps) ≥ 70% at a clean cost ≤ 2
 *     points vs the plain arm.
 * The robust arm is `fedtune simulate --preset robust` (robustPreset). The attack is the evaluation's own
 * PGD-40 of 0.01 with a random start, and its self-checks (PGD not weaker than FGSM, accuracy falling with ε)
 * are reported, and ECE before and after a temperature fitted federated on the sites' validation splits.
 *
 * Options: --rounds N (default: the preset's), --max-examples N per site and round (default: the preset's),
 * --average-rounds N (the final model the mean of the last N rounds' models, both arms; default: the preset's),
 * --epochs N and --lr X (local epochs per round, learning rate, both arms; default the preset's, else the run config's),
 * --lr-schedule SPEC (both arms, as the CLI's flag), --arm plain|adversarial,
 * --seed N (default 42), --scenario unshifted|builtin|both (default both), --quick (3 rounds, 200 examples),
 * --attack-examples N (holdout digits attacked by FGSM and PGD, default 200 of the 500 evaluated; above 500 the
 * evaluated sample grows to N, all attacked — the holdout has 1500; the samples are nested, a larger one starts
 * with the smaller's digits: at 85 % the standard error is ± 2.5 points on 200, ± 1.6 on 500, ± 1.1 on 1000);
 * scouting: --arch NAME (instead of the preset's), --workers N|auto (the sites' fit threads, both arms), --batch N (both arms), --train JSON (TrainConfig fields
 * merged into the adversarial arm over the preset's), --strategy NAME and --strategy-options JSON (the server's
 * aggregation, both arms; default fedavg), --tag T (appended to the results file's name).
 * Writes bench/results/robust-training[-SCENARIO][-quick][-TAG].json; the preset as shipped run for one scenario
 * (`--scenario builtin|unshifted`, no scouting knob) replaces that scenario's results and targets in
 * robust-training.json instead (`dates` says when each scenario was measured).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { digitsHeadlineEps, LearningRateSchedule, robustPreset, type RobustnessReport } from '@fedtune/shared';
import { runSimulation } from '../cli/src/simulation/run-simulation.ts';
import { learningRateScheduleOption } from '../cli/src/commands/run-config-flags.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const seed = Number(arg('seed') ?? 42);
// Examples per site and round (default: the preset's, robustPresetMaxExamples; 200 with --quick).
const maxExamplesArg = arg('max-examples') === undefined ? undefined : Number(arg('max-examples'));
const averageRoundsArg = arg('average-rounds') === undefined ? undefined : Number(arg('average-rounds'));
const scenarioArg = arg('scenario') ?? 'both';
// Local epochs per round and learning rate (default: the run config's).
const epochs = arg('epochs') === undefined ? undefined : Number(arg('epochs'));
const learningRate = arg('lr') === undefined ? undefined : Number(arg('lr'));
const onlyArm = arg('arm');
// Holdout digits attacked, and evaluated (at least the evaluation's usual 500, so clean and ECE keep their sample).
const attackExamples = Number(arg('attack-examples') ?? 200);
const evalExamples = Math.max(500, attackExamples);
// A learning-rate schedule over the rounds, both arms (`--lr-schedule cosine[:FINAL]|step:EVERY[:FACTOR]`, as the CLI's flag).
const learningRateSchedule = arg('lr-schedule') === undefined ? undefined : LearningRateSchedule.parse(learningRateScheduleOption(arg('lr-schedule')!));
// Scouting knobs: batch size of both arms, another architecture than the preset's, and extra TrainConfig
// fields (JSON) merged into the adversarial arm over the preset's (e.g. '{"adversarial":{"method":"pgd","eps":0.06,"steps":10}}').
const batchSize = arg('batch') === undefined ? undefined : Number(arg('batch'));
const archArg = arg('arch');
// --workers N|auto: the simulation's fit threads (default: its own default, auto).
const workersArg = arg('workers') === undefined ? undefined : arg('workers') === 'auto' ? ('auto' as const) : Number(arg('workers'));
// --strategy NAME --strategy-options JSON: the server's aggregation, both arms (e.g. fedavgm '{"serverLr":0.5,"momentum":0.5}').
const strategyArg = arg('strategy');
const strategyOptionsArg = arg('strategy-options') === undefined ? undefined : (JSON.parse(arg('strategy-options')!) as Record<string, unknown>);
const advExtra = arg('train') === undefined ? {} : (JSON.parse(arg('train')!) as Record<string, unknown>);
const out = mkdtempSync(join(tmpdir(), 'fedtune-bench-robust-'));

interface Arm {
  clean: number;
  ece: number;
  /** PGD-40 accuracy per ε, FGSM per ε, the black-box Square Attack at the target ε. */
  pgd: Record<string, number>;
  fgsm: Record<string, number>;
  square: Record<string, number>;
  /** Per example the worst case over FGSM, PGD and Square at the target ε (absent in results before 2026-12-04). */
  worstCase: Record<string, number>;
  warnings: string[];
  /** Temperature scaling fitted federated on the sites' validation splits (out of sample for the holdout). */
  calibration: { temperature: number; eceBefore: number; eceAfter: number } | null;
  seconds: number;
  /** Aggregates the adoption guard refused, and rounds that kept the previous model (absent before 2026-12-07). */
  adoption?: { refusals: number; keptPrevious: number };
  /** The machine's 1, 5 and 15 min load averages when the arm finished (the runs are CPU-bound). */
  loadAverage: number[];
  train: unknown;
}

function arm(r: RobustnessReport, seconds: number, train: unknown): Arm {
  return {
    clean: r.clean.accuracy,
    ece: r.clean.ece,
    pgd: Object.fromEntries(r.pgd.map((p) => [p.eps, p.accuracy])),
    fgsm: Object.fromEntries(r.fgsm.map((p) => [p.eps, p.accuracy])),
    // The black-box check at the target ε (Square Attack, model outputs only; absent in results before 2026-12-04).
    square: Object.fromEntries((r.square ?? []).map((p) => [p.eps, p.accuracy])),
    worstCase: Object.fromEntries((r.worstCase ?? []).filter((p) => p.attacks.includes('square')).map((p) => [p.eps, p.accuracy])),
    warnings: r.warnings,
    calibration: r.calibration ? { temperature: r.calibration.temperature, eceBefore: r.calibration.eceBefore, eceAfter: r.calibration.eceAfter } : null,
    seconds,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    train,
  };
}

const scenarios = [
  { name: 'unshifted', featureShift: false, targetEps: 0.1, target: 'PGD-40 at ε = 0.1 ≥ 85% with clean ≥ 95%' },
  { name: 'builtin', featureShift: true, targetEps: digitsHeadlineEps(true), target: `PGD-40 at the headline ε = ${digitsHeadlineEps(true)} ≥ 70% at a clean cost ≤ 2 points` },
].filter((s) => scenarioArg === 'both' || scenarioArg === s.name);

const results: Record<string, unknown> = {};
for (const scenario of scenarios) {
  const rounds = Number(arg('rounds') ?? (quick ? 3 : robustPreset(scenario.featureShift).rounds));
  // The preset at this length (its ε warm-up is a share of the rounds).
  const preset = robustPreset(scenario.featureShift, rounds);
  const maxExamples = maxExamplesArg ?? (quick ? 200 : preset.maxExamples);
  const averageRounds = averageRoundsArg ?? preset.averageRounds;
  const eps = [...new Set([0.05, scenario.targetEps, 0.1])].sort((a, b) => a - b);
  const arms: Record<string, Arm> = {};
  for (const name of (['plain', 'adversarial'] as const).filter((a) => !onlyArm || a === onlyArm)) {
    const started = performance.now();
    const r = await runSimulation({
      sites: 8,
      out,
      transport: 'memory',
      featureShift: scenario.featureShift,
      architecture: archArg ?? preset.architecture,
      rounds,
      seed,
      maxExamples,
      federatedEvaluation: 'never',
      // The sites' fit threads (default: the simulation's, --workers auto).
      ...(workersArg === undefined ? {} : { workers: workersArg }),
      ...(strategyArg === undefined ? {} : { strategy: strategyArg }),
      ...(strategyOptionsArg === undefined ? {} : { strategyOptions: strategyOptionsArg }),
      trainExtras: { ...preset[name], ...(name === 'adversarial' ? advExtra : {}), ...(epochs ? { epochs } : {}), ...(learningRate ? { learningRate } : {}), ...(learningRateSchedule ? { learningRateSchedule } : {}), ...(batchSize ? { batchSize } : {}) },
      config: { calibration: { source: 'federated' }, averageRounds },
      robustness: { when: 'final', examples: evalExamples, adversarialExamples: attackExamples, noise: false, corruptions: false, fgsm: eps, pgd: eps, square: [scenario.targetEps] },
    });
    const report = r.report.finalRobustness;
    if (r.report.status !== 'complete' || !report) throw new Error(`${scenario.name}/${name}: run ${r.report.status} ${r.report.aborted ?? ''}`);
    // Rounds whose aggregate the adoption guard refused (retried), and rounds that kept the previous model.
    const refusals = r.report.rounds.reduce((n, round) => n + (round.adoption?.refusals.length ?? 0), 0);
    const keptPrevious = r.report.rounds.filter((round) => round.adoption?.adopted === false).length;
    console.log(`${scenario.name} ${name}: the adoption guard refused ${refusals} aggregates; ${keptPrevious} rounds kept the previous model`);
    arms[name] = { ...arm(report, (performance.now() - started) / 1000, { ...preset[name], ...(name === 'adversarial' ? advExtra : {}), ...(epochs ? { epochs } : {}), ...(learningRate ? { learningRate } : {}), ...(learningRateSchedule ? { learningRateSchedule } : {}), ...(batchSize ? { batchSize } : {}) }), adoption: { refusals, keptPrevious } };
    console.log(`${scenario.name} ${name}: clean ${(100 * report.clean.accuracy).toFixed(1)}%, PGD-40 ${report.pgd.map((p) => `ε=${p.eps} ${(100 * p.accuracy).toFixed(1)}%`).join(', ')}${report.square?.length ? `, Square (black-box) ε=${report.square[0]!.eps} ${(100 * report.square[0]!.accuracy).toFixed(1)}%` : ''}${Object.keys(arms[name].worstCase).length ? `, worst case per example ${Object.entries(arms[name].worstCase).map(([eps, a]) => `ε=${eps} ${(100 * a).toFixed(1)}%`).join(', ')}` : ''}; ECE ${report.clean.ece.toFixed(3)}${report.calibration ? ` → ${report.calibration.eceAfter.toFixed(3)} (T ${report.calibration.temperature.toFixed(2)})` : ''}; ${arms[name].seconds.toFixed(0)} s${report.warnings.length ? `; warnings: ${report.warnings.join(' | ')}` : ''}`);
  }
  const { plain, adversarial } = arms;
  const setup = { sites: 8, architecture: archArg ?? preset.architecture, strategy: strategyArg ?? 'fedavg', strategyOptions: strategyOptionsArg, rounds, epochs, learningRate, learningRateSchedule, batchSize, maxExamplesPerSiteRound: maxExamples, averageRounds, seed, calibration: 'temperature fitted federated on the sites\' validation splits', evaluation: `PGD-40 × 0.01, random start, per example the worst case over the cross-entropy and margin losses; Square Attack (1000 queries) at the target ε; ${attackExamples} attacked of ${evalExamples} holdout digits, evaluation seed 0` };
  // The unshifted target is the adversarial arm's alone; the built-in one needs the plain arm's clean accuracy.
  if (!adversarial || (scenario.featureShift && !plain)) {
    results[scenario.name] = { target: scenario.target, met: null, eps: scenario.targetEps, setup, arms };
    continue;
  }
  const pgd = adversarial.pgd[scenario.targetEps];
  const cleanCost = plain ? plain.clean - adversarial.clean : null;
  const eceAfter = adversarial.calibration?.eceAfter ?? null;
  const met = scenario.featureShift
    ? pgd >= 0.7 && cleanCost! <= 0.02 && eceAfter !== null && eceAfter <= 0.05
    : pgd >= 0.85 && adversarial.clean >= 0.95 && eceAfter !== null && eceAfter <= 0.03;
  results[scenario.name] = {
    target: scenario.target,
    met,
    eps: scenario.targetEps,
    robustPgd: pgd,
    robustClean: adversarial.clean,
    plainPgd: plain?.pgd[scenario.targetEps] ?? null,
    plainClean: plain?.clean ?? null,
    cleanCost,
    eceAfterCalibration: eceAfter,
    setup,
    arms,
  };
}

// The issue's targets as rows for `npm run bench`'s table — only for the preset as shipped (no scouting knob, not quick).
const scouting = quick || arg('tag') !== undefined || maxExamplesArg !== undefined || averageRoundsArg !== undefined || archArg !== undefined || arg('train') !== undefined || strategyArg !== undefined || strategyOptionsArg !== undefined || epochs !== undefined || learningRate !== undefined || learningRateSchedule !== undefined || batchSize !== undefined || arg('rounds') !== undefined;
type ScenarioResult = { met: boolean | null; robustPgd?: number; robustClean?: number; cleanCost?: number | null; eceAfterCalibration?: number | null; setup: { architecture: string; rounds: number } };
const targets = scouting
  ? undefined
  : Object.entries(results as Record<string, ScenarioResult>).flatMap(([name, r]) => {
      if (r.met === null || r.robustPgd === undefined) return [];
      const note = `${r.setup.architecture}, ${r.setup.rounds} rounds, seed ${seed}, ${attackExamples} attacked digits`;
      const row = (target: string, goal: number, measured: number, unit: string, met: boolean) => ({ target: `robust preset, ${name === 'builtin' ? 'the built-in task (scanners)' : 'unshifted digits'}: ${target}`, goal, measured: Number(measured.toFixed(4)), unit, met, note });
      const ece = r.eceAfterCalibration ?? Infinity;
      return name === 'builtin'
        ? [
            row(`PGD-40 at the headline ε ${digitsHeadlineEps(true)}`, 0.7, r.robustPgd, 'fraction', r.robustPgd >= 0.7),
            row('clean cost vs the plain arm of the same length', 2, 100 * (r.cleanCost ?? Infinity), 'points', (r.cleanCost ?? Infinity) <= 0.02),
            row('ECE after temperature scaling', 0.05, ece, 'ECE', ece <= 0.05),
          ]
        : [
            row('PGD-40 at ε 0.1', 0.85, r.robustPgd, 'fraction', r.robustPgd >= 0.85),
            row('clean accuracy', 0.95, r.robustClean ?? 0, 'fraction', (r.robustClean ?? 0) >= 0.95),
            row('ECE after temperature scaling', 0.03, ece, 'ECE', ece <= 0.03),
          ];
    });
const dir = join('bench', 'results');
mkdirSync(dir, { recursive: true });
// The preset as shipped, one scenario only: its results and targets replace that scenario's in robust-training.json
// (the other scenario's stay, with their own date); scouting runs write a file of their own.
const mainFile = join(dir, 'robust-training.json');
const merged = !scouting && scenarioArg !== 'both' && existsSync(mainFile);
const previous = merged ? (JSON.parse(readFileSync(mainFile, 'utf8')) as { date?: string; dates?: Record<string, string>; results?: Record<string, unknown>; targets?: Array<{ target: string }> }) : undefined;
const isThisScenario = (t: { target: string }) => t.target.startsWith(`robust preset, ${scenarioArg === 'builtin' ? 'the built-in task' : 'unshifted digits'}`);
const now = new Date().toISOString();
const result = previous
  ? {
      date: now,
      dates: { ...Object.fromEntries(Object.keys(previous.results ?? {}).map((k) => [k, previous.dates?.[k] ?? previous.date ?? null])), [scenarioArg]: now },
      quick,
      results: { ...previous.results, ...results },
      targets: [...(previous.targets ?? []).filter((t) => !isThisScenario(t)), ...(targets ?? [])],
    }
  : { date: now, quick, results, ...(targets ? { targets } : {}) };
writeFileSync(previous ? mainFile : join(dir, `robust-training${scenarioArg === 'both' ? '' : `-${scenarioArg}`}${quick ? '-quick' : ''}${arg('tag') ? `-${arg('tag')}` : ''}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { ...(v as Record<string, unknown>), arms: undefined }])), null, 2));
process.exit(0);
