import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { runConfigDefaults, type RunConfig } from '@fedtune/coordinator';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { coordinatorCommand, coordinatorRunConfig } from '../../cli/src/commands/coordinator-command.ts';
import { RUN_CONFIG_FLAGS } from '../../cli/src/commands/run-config-flags.ts';
import { refuseInactiveFlags } from '../../cli/src/commands/inactive-run-config-flags.ts';
import { simulationRunConfig } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';
import { parseOnly } from './parse-command.ts';

/**
 * Every run-config flag, on both commands that start a run, changes the RunConfig it should: the config is
 * built from the parsed argv by the commands' own builders (nothing runs), and compared with the config of
 * the same command line without the flag. A flag declared in run-config-flags.ts without an entry here
 * fails the coverage test; one whose value is dropped on the way fails its row.
 */

const dir = tempDir();
const configFile = join(dir, 'run.yaml');
writeFileSync(configFile, 'rounds: 7\ntrain:\n  epochs: 3\n');

interface Row {
  argv: string[];
  read: (c: RunConfig) => unknown;
  want: unknown;
  /** Flags the row needs besides its own (e.g. --dp-clip needs --dp-noise); the baseline has them too. */
  with?: string[];
}

const RUN_CONFIG_ROWS: Record<string, Row> = {
  '--config': { argv: ['--config', configFile], read: (c) => [c.rounds, c.train.epochs], want: [7, 3] },
  '--run-id': { argv: ['--run-id', 'option-table'], read: (c) => c.runId, want: 'option-table' },
  '--rounds': { argv: ['--rounds', '3'], read: (c) => c.rounds, want: 3 },
  '--min-sites': { argv: ['--min-sites', '5'], read: (c) => c.minSites, want: 5 },
  '--seed': { argv: ['--seed', '7'], read: (c) => c.seed, want: 7 },
  '--fraction': { argv: ['--fraction', '0.5'], read: (c) => c.fraction, want: 0.5 },
  '--quorum': { argv: ['--quorum', '0.9'], read: (c) => c.quorum, want: 0.9 },
  '--round-timeout': { argv: ['--round-timeout', '12'], read: (c) => c.roundTimeoutMs, want: 12_000 },
  '--wait-after-quorum': { argv: ['--wait-after-quorum', '2.5'], read: (c) => c.stragglers.waitAfterQuorumMs, want: 2_500 },
  '--straggler-cooldown': { argv: ['--straggler-cooldown', '0'], read: (c) => c.stragglers.maxCooldownRounds, want: 0 },
  '--epochs': { argv: ['--epochs', '2'], read: (c) => c.train.epochs, want: 2 },
  '--batch-size': { argv: ['--batch-size', '8'], read: (c) => c.train.batchSize, want: 8 },
  '--lr': { argv: ['--lr', '0.05'], read: (c) => c.train.learningRate, want: 0.05 },
  '--lr-schedule': { argv: ['--lr-schedule', 'step:5:0.3'], read: (c) => c.train.learningRateSchedule, want: { kind: 'step', every: 5, factor: 0.3 } },
  '--optimizer': { argv: ['--optimizer', 'sgd'], read: (c) => c.train.optimizer, want: 'sgd' },
  '--trainable': { argv: ['--trainable', 'head'], read: (c) => c.train.trainable, want: 'head' },
  '--max-examples': { argv: ['--max-examples', '64'], read: (c) => c.train.maxExamples, want: 64 },
  '--update-encoding': { argv: ['--update-encoding', 'int8'], read: (c) => c.train.updateEncoding, want: 'int8' },
  '--model-delivery': { argv: ['--model-delivery', 'http'], read: (c) => c.modelDelivery, want: 'http' },
  '--adv-method': { argv: ['--adv-method', 'trades'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.method, want: 'trades' },
  '--adv-eps': { argv: ['--adv-eps', '0.06'], read: (c) => c.train.adversarial, want: { method: 'pgd', share: 1, eps: 0.06 } },
  '--adv-steps': { argv: ['--adv-steps', '10'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.steps, want: 10 },
  '--adv-step-size': { argv: ['--adv-step-size', '0.02'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.stepSize, want: 0.02 },
  '--adv-share': { argv: ['--adv-share', '0.5'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.share, want: 0.5 },
  '--adv-norm': { argv: ['--adv-norm', 'l2'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.norm, want: 'l2' },
  '--adv-eps-units': { argv: ['--adv-eps-units', 'data-std'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.epsUnits, want: 'data-std' },
  '--adv-warmup': { argv: ['--adv-warmup', '3'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.warmupRounds, want: 3 },
  '--adv-space': { argv: ['--adv-space', 'embedding'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.space, want: 'embedding' },
  '--adv-awp': { argv: ['--adv-awp', '0.005'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.awp, want: 0.005 },
  '--adv-attack-loss': { argv: ['--adv-attack-loss', 'mixed'], with: ['--adv-eps', '0.1'], read: (c) => c.train.adversarial?.attackLoss, want: 'mixed' },
  '--trades-beta': { argv: ['--trades-beta', '2'], with: ['--adv-eps', '0.1', '--adv-method', 'trades'], read: (c) => c.train.adversarial?.beta, want: 2 },
  '--text-augment': { argv: ['--text-augment', '2:0.5'], read: (c) => c.train.textAugmentation, want: { copies: 2, rate: 0.5 } },
  '--class-names': { argv: ['--class-names', 'ham, spam,phish'], read: (c) => c.classNames, want: ['ham', 'spam', 'phish'] },
  '--average-rounds': { argv: ['--average-rounds', '4'], read: (c) => c.averageRounds, want: 4 },
  '--federated-eval': { argv: ['--federated-eval', 'every-round'], read: (c) => c.federatedEvaluation, want: 'every-round' },
  '--evaluation-fraction': { argv: ['--evaluation-fraction', '0.25'], read: (c) => c.evaluationFraction, want: 0.25 },
  '--max-evaluation-sites': { argv: ['--max-evaluation-sites', '40'], read: (c) => c.maxEvaluationSites, want: 40 },
  '--sites-drop-model': { argv: ['--sites-drop-model'], read: (c) => c.sitesKeepModel, want: false },
  '--robustness': { argv: ['--robustness', '3'], read: (c) => c.robustness.when, want: 3 },
  '--robustness-examples': { argv: ['--robustness-examples', '50'], read: (c) => c.robustness.examples, want: 50 },
  '--calibration': { argv: ['--calibration', 'federated'], read: (c) => c.calibration.source, want: 'federated' },
  '--certify': { argv: ['--certify'], read: (c) => c.robustness.certify?.n, want: 1000 },
  '--strategy': { argv: ['--strategy', 'trimmed-mean'], read: (c) => c.strategy, want: 'fedtrimmedavg' },
  '--strategy-opt': { argv: ['--strategy-opt', 'f=2', '--strategy-opt', 'm=3'], with: ['--strategy', 'multikrum'], read: (c) => c.strategyOptions, want: { f: 2, m: 3 } },
  '--expected-malicious': { argv: ['--expected-malicious', '2'], with: ['--strategy', 'krum'], read: (c) => c.expectedMaliciousSites, want: 2 },
  '--max-update-norm': { argv: ['--max-update-norm', '5'], read: (c) => c.maxUpdateNorm, want: 5 },
  '--norm-bound-multiple': { argv: ['--norm-bound-multiple', '0'], read: (c) => c.normBoundMultiple, want: 0 },
  '--example-weight-cap': { argv: ['--example-weight-cap', '0'], read: (c) => c.exampleWeightCap, want: 0 },
  '--max-accuracy-drop': { argv: ['--max-accuracy-drop', '1'], read: (c) => c.maxAccuracyDrop, want: 1 },
  '--max-accuracy-drop-from-best': { argv: ['--max-accuracy-drop-from-best', '0.12'], read: (c) => c.maxAccuracyDropFromBest, want: 0.12 },
  '--dp-noise': { argv: ['--dp-noise', '1.1'], read: (c) => c.dp?.noiseMultiplier, want: 1.1 },
  '--dp-clip': { argv: ['--dp-clip', 'adaptive:0.5:2'], with: ['--dp-noise', '1'], read: (c) => [c.dp?.clip, c.dp?.adaptive?.targetQuantile], want: [2, 0.5] },
  '--dp-noise-mode': { argv: ['--dp-noise-mode', 'central'], with: ['--dp-noise', '1'], read: (c) => c.dp?.noise, want: 'central' },
  '--dp-delta': { argv: ['--dp-delta', '1e-7'], with: ['--dp-noise', '1'], read: (c) => c.dp?.delta, want: 1e-7 },
  '--dp-sgd-clip': { argv: ['--dp-sgd-clip', '0.7', '--dp-sgd-noise', '1.1'], read: (c) => c.train.dpSgd?.clip, want: 0.7 },
  '--dp-sgd-noise': { argv: ['--dp-sgd-clip', '1', '--dp-sgd-noise', '2'], read: (c) => c.train.dpSgd?.noiseMultiplier, want: 2 },
  '--personalize': { argv: ['--personalize', 'ditto'], read: (c) => c.personalization.mode, want: 'ditto' },
  '--personalize-epochs': { argv: ['--personalize-epochs', '9'], with: ['--personalize', 'head'], read: (c) => c.personalization.epochs, want: 9 },
  '--personalize-lambda': { argv: ['--personalize-lambda', '2.5'], with: ['--personalize', 'ditto'], read: (c) => c.personalization.lambda, want: 2.5 },
  '--personalize-lr': { argv: ['--personalize-lr', '0.02'], with: ['--personalize', 'head'], read: (c) => c.personalization.learningRate, want: 0.02 },
  '--personalize-keep-always': { argv: ['--personalize-keep-always'], with: ['--personalize', 'head'], read: (c) => c.personalization.validate, want: false },
  '--personalize-guard': { argv: ['--personalize-guard', 'fgsm'], with: ['--personalize', 'auto'], read: (c) => c.personalization.guard, want: 'fgsm' },
  '--personalize-guard-eps': { argv: ['--personalize-guard-eps', '0.08'], with: ['--personalize', 'auto'], read: (c) => c.personalization.guardEps, want: 0.08 },
  '--personalize-selection': { argv: ['--personalize-selection', 'holdout'], with: ['--personalize', 'auto'], read: (c) => c.personalization.selection, want: 'holdout' },
  '--personalize-folds': { argv: ['--personalize-folds', '3'], with: ['--personalize', 'auto'], read: (c) => c.personalization.folds, want: 3 },
  '--personalize-margin': { argv: ['--personalize-margin', '0'], with: ['--personalize', 'auto'], read: (c) => c.personalization.selectionMargin, want: 0 },
  '--no-local-only': { argv: ['--no-local-only'], with: ['--personalize', 'head'], read: (c) => c.personalization.localOnly, want: false },
  '--site-robustness': { argv: ['--site-robustness', 'final'], read: (c) => c.siteRobustness.when, want: 'final' },
  '--site-robustness-examples': { argv: ['--site-robustness-examples', '77'], with: ['--site-robustness', 'final'], read: (c) => c.siteRobustness.examples, want: 77 },
  '--secure-aggregation': { argv: ['--secure-aggregation'], read: (c) => c.secureAggregation?.clip, want: 1 },
  '--secagg-clip': { argv: ['--secagg-clip', '0.5'], with: ['--secure-aggregation'], read: (c) => c.secureAggregation?.clip, want: 0.5 },
  '--secagg-threshold': { argv: ['--secagg-threshold', '3'], with: ['--secure-aggregation'], read: (c) => c.secureAggregation?.threshold, want: 3 },
  '--secagg-neighbours': { argv: ['--secagg-neighbours', '4'], with: ['--secure-aggregation'], read: (c) => c.secureAggregation?.neighbours, want: 4 },
};

/** How each command turns parsed argv into the RunConfig it would run with. */
const COMMANDS: Record<string, { make: () => Command; config: (c: Command) => RunConfig }> = {
  simulate: { make: () => simulateCommand(), config: (c) => simulationRunConfig(simulationOptionsFromCommand(c)) },
  coordinator: { make: () => coordinatorCommand(), config: (c) => coordinatorRunConfig(c).config },
};

async function configOf(command: string, argv: string[]): Promise<RunConfig> {
  const { make, config } = COMMANDS[command];
  return config(await parseOnly(make(), argv));
}

describe.each(Object.keys(COMMANDS))('every run-config flag of %s changes the RunConfig', (command) => {
  it('the table has a row for every run-config flag the command declares', () => {
    const declared = COMMANDS[command].make().options.map((o) => o.long!);
    const shared = RUN_CONFIG_FLAGS.map((f) => f.flags.split(' ')[0]);
    for (const flag of shared) expect(declared, `${command} declares ${flag}`).toContain(flag);
    expect(Object.keys(RUN_CONFIG_ROWS).sort()).toEqual([...shared].sort());
  });

  it.each(Object.keys(RUN_CONFIG_ROWS))('%s', async (flag) => {
    const row = RUN_CONFIG_ROWS[flag];
    const baseline = await configOf(command, row.with ?? []);
    const changed = await configOf(command, [...(row.with ?? []), ...row.argv]);
    expect(row.read(changed)).toEqual(row.want);
    expect(row.read(baseline)).not.toEqual(row.want);
  });
});

describe('one flags → config builder, defaults only in the schema', () => {
  it('with no flags, coordinator runs with exactly the schema defaults (plus the built-in task\'s headline ε on the built-in holdout)', async () => {
    const { runId: _, ...config } = await configOf('coordinator', []);
    const d = runConfigDefaults();
    expect(config).toEqual({ ...d, robustness: { ...d.robustness, headlineEps: 0.06 } });
    const { runId: __, ...own } = await configOf('coordinator', ['--holdout', configFile]);
    expect(own).toEqual(d);
  });

  it('with no flags, simulate differs from the schema only where the simulation decides (every site joins, longer timeouts)', async () => {
    const { runId: _, ...config } = await configOf('simulate', ['--sites', '3']);
    const d = runConfigDefaults();
    // The built-in task's headline ε (digits-task.ts) is always among the attacks' ε.
    expect(config).toEqual({ ...d, minSites: 3, roundTimeoutMs: 600_000, joinTimeoutMs: 120_000, robustness: { ...d.robustness, headlineEps: 0.06 } });
  });

  it.each(Object.keys(COMMANDS))('%s: flags typed on the command line override the config file, the rest of the file stays', async (command) => {
    const config = await configOf(command, ['--config', configFile, '--rounds', '4']);
    expect(config.rounds).toBe(4);
    expect(config.train.epochs).toBe(3);
  });

  it.each(Object.keys(COMMANDS))('%s: help shows the schema default of every flag that has one', (command) => {
    const help = COMMANDS[command].make().helpInformation().replace(/\s+/g, ' ');
    const d = runConfigDefaults();
    expect(help).toMatch(/--rounds <n> number of rounds \(default: 10\)/);
    expect(d.rounds).toBe(10);
    expect(help).toContain(`--norm-bound-multiple <x> refuse an update whose norm exceeds this multiple of the round's median (0: off) (default: ${d.normBoundMultiple})`);
    expect(help).toContain(`(default: ${d.exampleWeightCap})`);
    expect(help).toContain(`(default: ${d.maxAccuracyDrop})`);
    expect(help).toContain(`(1: off) (default: ${d.maxAccuracyDropFromBest})`);
    expect(help).toContain(`(default: ${d.train.optimizer})`);
  });

  it.each(Object.keys(COMMANDS))('%s: --class-names refuses an empty name, a repeated name and a single class with one config error', async (command) => {
    await expect(configOf(command, ['--class-names', 'ham,,spam'])).rejects.toThrow(/class-names: an empty name/);
    await expect(configOf(command, ['--class-names', 'ham,spam,ham'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('distinct') });
    await expect(configOf(command, ['--class-names', 'ham'])).rejects.toMatchObject({ code: 'config' });
  });

  it.each(Object.keys(COMMANDS))('%s: a partner flag without its partner is one clear config error, not silently ignored', async (command) => {
    for (const argv of [['--dp-noise-mode', 'distributed'], ['--dp-clip', '1'], ['--dp-sgd-clip', '1'], ['--dp-delta', '1e-6'], ['--secagg-clip', '2'], ['--secagg-threshold', '3']]) {
      await expect(configOf(command, argv), argv.join(' ')).rejects.toMatchObject({ code: 'config' });
    }
  });

  // A flag whose mode the run does not have would do nothing: refused, naming the flag and what it needs
  // (coordinator/src/config/inactive-run-config.ts, cli/src/commands/inactive-run-config-flags.ts); the same flag in its mode is accepted.
  const INACTIVE: Array<[refused: string[], needs: RegExp, accepted: string[]]> = [
    [['--personalize-epochs', '9'], /--personalize-epochs has no effect here: it needs --personalize/, ['--personalize', 'head', '--personalize-epochs', '9']],
    [['--personalize-lr', '0.02'], /--personalize-lr .*needs --personalize/, ['--personalize', 'fedbn', '--personalize-lr', '0.02']],
    [['--personalize-keep-always'], /--personalize-keep-always .*needs --personalize/, ['--personalize', 'ditto', '--personalize-keep-always']],
    [['--no-local-only'], /--no-local-only .*needs --personalize/, ['--personalize', 'auto', '--no-local-only']],
    [['--personalize', 'none', '--personalize-epochs', '2'], /--personalize-epochs .*needs --personalize/, ['--personalize', 'lp-ft', '--personalize-epochs', '2']],
    [['--personalize', 'head', '--personalize-lambda', '3'], /--personalize-lambda .*Ditto's λ: it needs --personalize ditto or auto/, ['--personalize', 'auto', '--personalize-lambda', '3']],
    [['--personalize', 'ditto', '--personalize-guard', 'fgsm'], /--personalize-guard .*needs --personalize auto/, ['--personalize', 'auto', '--personalize-guard', 'fgsm']],
    [['--personalize-guard-eps', '0.1'], /--personalize-guard-eps .*needs --personalize auto/, ['--personalize', 'auto', '--personalize-guard-eps', '0.1']],
    [['--personalize', 'head', '--personalize-selection', 'holdout'], /--personalize-selection .*needs --personalize auto/, ['--personalize', 'auto', '--personalize-selection', 'holdout']],
    [['--personalize', 'head', '--personalize-margin', '2'], /--personalize-margin .*needs --personalize auto/, ['--personalize', 'auto', '--personalize-margin', '2']],
    [['--personalize-folds', '3'], /--personalize-folds .*needs --personalize auto with --personalize-selection kfold/, ['--personalize', 'auto', '--personalize-folds', '3']],
    [['--personalize', 'head', '--personalize-folds', '3'], /--personalize-folds .*needs --personalize auto/, ['--personalize', 'auto', '--personalize-selection', 'kfold', '--personalize-folds', '3']],
    [['--personalize', 'auto', '--personalize-selection', 'holdout', '--personalize-folds', '3'], /--personalize-folds .*needs --personalize auto with --personalize-selection kfold/, ['--personalize', 'auto', '--personalize-selection', 'kfold', '--personalize-folds', '3']],
    [['--site-robustness-examples', '50'], /--site-robustness-examples .*needs --site-robustness final/, ['--site-robustness', 'final', '--site-robustness-examples', '50']],
    [['--robustness', 'never', '--certify'], /--certify has no effect here: it acts where robustness is evaluated/, ['--robustness', 'final', '--certify']],
    [['--robustness', 'never', '--calibration', 'federated'], /--calibration .*--robustness final, every-round or K/, ['--robustness', '2', '--calibration', 'federated']],
    [['--robustness', 'never', '--robustness-examples', '50'], /--robustness-examples .*robustness is evaluated/, ['--robustness', 'every-round', '--robustness-examples', '50']],
    [['--federated-eval', 'never', '--evaluation-fraction', '0.5'], /--evaluation-fraction .*needs --federated-eval final or every-round/, ['--federated-eval', 'final', '--evaluation-fraction', '0.5']],
    [['--federated-eval', 'never', '--max-evaluation-sites', '3'], /--max-evaluation-sites .*needs --federated-eval/, ['--federated-eval', 'every-round', '--max-evaluation-sites', '3']],
    [['--dp-noise', '1', '--max-accuracy-drop', '0.05'], /--max-accuracy-drop .*not applied under client-level DP/, ['--dp-sgd-clip', '1', '--dp-sgd-noise', '1', '--max-accuracy-drop', '0.05']],
    [['--dp-noise', '1', '--max-accuracy-drop-from-best', '0.1'], /--max-accuracy-drop-from-best .*not applied under client-level DP/, ['--max-accuracy-drop-from-best', '0.1']],
    [['--dp-noise', '1', '--norm-bound-multiple', '3'], /--norm-bound-multiple .*not applied under client-level DP/, ['--norm-bound-multiple', '3']],
    [['--secure-aggregation', '--norm-bound-multiple', '3'], /--norm-bound-multiple .*nor secure aggregation/, ['--max-update-norm', '10', '--norm-bound-multiple', '3']],
    [['--secure-aggregation', '--wait-after-quorum', '5'], /--wait-after-quorum .*secure-aggregation round has its own phase deadlines/, ['--wait-after-quorum', '5']],
    [['--expected-malicious', '1'], /--expected-malicious .*krum, multikrum and bulyan/, ['--strategy', 'bulyan', '--expected-malicious', '1']],
    // The example-weight cap bounds the training average's weights, federated evaluation's and federated
    // calibration's: refused only where it bounds none of them.
    [['--secure-aggregation', '--federated-eval', 'never', '--example-weight-cap', '2'], /--example-weight-cap has no effect here: it bounds example-count weights.*this run has none of them/, ['--secure-aggregation', '--example-weight-cap', '2']],
    [['--dp-noise', '1', '--federated-eval', 'never', '--example-weight-cap', '2'], /--example-weight-cap .*not under client-level DP/, ['--dp-noise', '1', '--federated-eval', 'never', '--calibration', 'federated', '--example-weight-cap', '2']],
    [['--strategy', 'fedmedian', '--federated-eval', 'never', '--example-weight-cap', '2'], /--example-weight-cap .*fedmedian/, ['--strategy', 'normclip', '--federated-eval', 'never', '--example-weight-cap', '2']],
    [['--strategy', 'centeredclip', '--federated-eval', 'never', '--robustness', 'never', '--example-weight-cap', '0'], /--example-weight-cap .*centeredclip/, ['--strategy', 'centeredclip', '--example-weight-cap', '0']],
    [['--rounds', '5', '--lr-schedule', 'step:5'], /--lr-schedule has no effect here: it never changes the rate: step:EVERY needs EVERY below the run's rounds/, ['--rounds', '6', '--lr-schedule', 'step:5']],
    [['--lr-schedule', 'step:12:0.5'], /--lr-schedule .*never changes the rate/, ['--lr-schedule', 'cosine']],
    [['--rounds', '2', '--adv-eps', '0.1', '--adv-warmup', '5'], /--adv-warmup has no effect here: it ends after the run/, ['--rounds', '5', '--adv-eps', '0.1', '--adv-warmup', '5']],
    // Adversarial settings the method never reads: FGSM's one step; everything once ε or the share is 0.
    [['--adv-eps', '0.1', '--adv-method', 'fgsm', '--adv-steps', '3'], /--adv-steps has no effect here: it sets the PGD \/ TRADES iterations: FGSM takes one step/, ['--adv-eps', '0.1', '--adv-method', 'pgd', '--adv-steps', '3']],
    [['--adv-eps', '0.1', '--adv-method', 'fgsm', '--adv-step-size', '0.01'], /--adv-step-size .*FGSM takes one step/, ['--adv-eps', '0.1', '--adv-method', 'trades', '--adv-step-size', '0.01']],
    [['--adv-eps', '0', '--adv-norm', 'l2'], /--adv-norm has no effect here: it sets adversarial training, which ε 0 or share 0 turns off/, ['--adv-eps', '0.1', '--adv-norm', 'l2']],
    [['--adv-eps', '0', '--adv-method', 'fgsm'], /--adv-method .*ε 0 or share 0 turns off/, ['--adv-eps', '0.05', '--adv-method', 'fgsm']],
    [['--adv-eps', '0.1', '--adv-share', '0', '--adv-warmup', '3'], /--adv-warmup .*ε 0 or share 0 turns off/, ['--adv-eps', '0.1', '--adv-share', '0.5', '--adv-warmup', '3']],
    [['--adv-eps', '0', '--adv-share', '0.5'], /--adv-share has no effect here: it is the adversarial share of a batch, but ε 0 turns adversarial training off/, ['--adv-eps', '0.1', '--adv-share', '0.5']],
    [['--adv-eps', '0.1', '--adv-share', '0'], /--adv-eps has no effect here: it is the radius of adversarial training, which share 0 turns off/, ['--adv-eps', '0']],
  ];
  it.each(Object.keys(COMMANDS))('%s: a flag whose mode the run does not have is one clear config error naming the flag and what it needs', async (command) => {
    for (const [refused, needs] of INACTIVE) {
      await expect(configOf(command, refused), refused.join(' ')).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(needs) });
    }
  });
  it.each(Object.keys(COMMANDS))('%s: the same flags in their mode are accepted and set (the refusal is about the mode, not the flag)', async (command) => {
    for (const [, , accepted] of INACTIVE) await expect(configOf(command, accepted), accepted.join(' ')).resolves.toBeTruthy();
  });
  // The same settings from a config file: refused where they can have no effect in the run at all (the
  // field named with the file); the schema's defaults never are (the default cap is 4 under secure aggregation).
  const writeConfig = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const IN_FILE: Array<[file: string, argv: string[], refused: RegExp | undefined]> = [
    [writeConfig('cap-secagg.yaml', 'exampleWeightCap: 2\nfederatedEvaluation: never\n'), ['--secure-aggregation'], /^exampleWeightCap \(in cap-secagg.yaml\) has no effect here: it bounds example-count weights/],
    [writeConfig('cap-secagg-eval.yaml', 'exampleWeightCap: 2\n'), ['--secure-aggregation'], undefined],
    [writeConfig('cap-median.yaml', 'strategy: fedmedian\nexampleWeightCap: 2\nfederatedEvaluation: never\n'), [], /^exampleWeightCap \(in cap-median.yaml\) has no effect here/],
    [writeConfig('cap-median-calibration.yaml', 'strategy: fedmedian\nexampleWeightCap: 2\nfederatedEvaluation: never\ncalibration: { source: federated }\n'), [], undefined],
    [writeConfig('no-cap.yaml', 'federatedEvaluation: never\n'), ['--secure-aggregation'], undefined],
    [writeConfig('adv-fgsm.yaml', 'train:\n  adversarial: { eps: 0.1, method: fgsm, steps: 3 }\n'), [], /^train.adversarial.steps \(in adv-fgsm.yaml\) has no effect here: it sets the PGD \/ TRADES iterations/],
    [writeConfig('adv-pgd.yaml', 'train:\n  adversarial: { eps: 0.1, method: pgd, steps: 3 }\n'), [], undefined],
    [writeConfig('adv-off.yaml', 'train:\n  adversarial: { eps: 0, norm: l2 }\n'), [], /^train.adversarial.norm \(in adv-off.yaml\) has no effect here: it sets adversarial training, which ε 0 or share 0 turns off/],
    [writeConfig('adv-off-only.yaml', 'train:\n  adversarial: { eps: 0 }\n'), [], undefined],
    [writeConfig('lr-step.yaml', 'rounds: 4\ntrain:\n  learningRateSchedule: { kind: step, every: 4 }\n'), [], /^train.learningRateSchedule \(in lr-step.yaml\) has no effect here: it never changes the rate/],
    [writeConfig('lr-step-more-rounds.yaml', 'train:\n  learningRateSchedule: { kind: step, every: 4 }\n'), ['--rounds', '8'], undefined],
  ];
  it.each(Object.keys(COMMANDS))('%s: a config-file field that can have no effect in the run is refused naming the field and the file; its valid combinations and the defaults are accepted', async (command) => {
    for (const [file, argv, refused] of IN_FILE) {
      const run = configOf(command, ['--config', file, ...argv]);
      if (refused) await expect(run, file).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(refused) });
      else await expect(run, file).resolves.toBeTruthy();
    }
  });

  it('a partial config with a null where a section would be is read as nothing typed (no TypeError)', () => {
    const config = runConfigDefaults() as unknown as RunConfig;
    expect(() => refuseInactiveFlags({ personalization: null } as never, config, {})).not.toThrow();
    expect(() => refuseInactiveFlags({ personalization: { epochs: 3 } } as never, config, { 'personalization.epochs': '--personalize-epochs' })).toThrow('--personalize-epochs has no effect here');
  });

  it.each(Object.keys(COMMANDS))('%s: an adversarial flag without --adv-eps, or β without TRADES, is one clear config error naming the flag', async (command) => {
    await expect(configOf(command, ['--adv-steps', '3'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--adv-eps') });
    await expect(configOf(command, ['--adv-eps', '0.1', '--trades-beta', '3'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--trades-beta') });
    await expect(configOf(command, ['--adv-eps', '1.5'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--adv-eps') });
  });

  it.each(Object.keys(COMMANDS))('%s: help shows the adversarial defaults of the schema', (command) => {
    const help = COMMANDS[command].make().helpInformation().replace(/\s+/g, ' ');
    expect(help).toMatch(/--adv-method <name> adversarial training: fgsm, pgd, trades .*\(default: pgd\)/);
    expect(help).toMatch(/--adv-steps <n> adversarial training: PGD \/ TRADES iterations \(default: 7\)/);
    expect(help).toMatch(/--trades-beta <x> .* \(default: 6\)/);
  });

  it.each(Object.keys(COMMANDS))('%s: an unknown strategy is refused listing the registry\'s stable names', async (command) => {
    await expect(configOf(command, ['--strategy', 'fedmean'])).rejects.toThrow(/unknown strategy "fedmean" \(known: fedavg, fedavgm, fedprox, .*centeredclip\)/);
  });
});
