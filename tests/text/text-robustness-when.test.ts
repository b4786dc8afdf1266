import { describe, expect, it } from 'vitest';
import type { RunConfigFile } from '@fedtune/coordinator';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { parseOnly } from '../cli-options/parse-command.ts';
import { tempDir } from '../helpers/federation.ts';
import { tinySpamSimulation } from './tiny-spam-simulation.ts';

/**
 * `--robustness <when>` (robustness.when) schedules the text task's robustness evaluation as it does the image
 * one's. Before 2026-12-07 the spam task's text robustness ran after the final round whatever `when` said, so
 * `--robustness never` still evaluated it. Each row parses the command line as the CLI does and runs a 2-round
 * federation in this process with a cheap evaluation.
 */
const WHEN: Array<[string, { text: boolean; image: boolean[] }]> = [
  ['never', { text: false, image: [false, false] }],
  ['final', { text: true, image: [false, true] }],
  ['every-round', { text: true, image: [true, true] }],
  // every 3rd round and the final one: in 2 rounds, the final one only.
  ['3', { text: true, image: [false, true] }],
];

describe('--robustness <when> on the spam task: the text robustness section follows it', () => {
  it.each(WHEN)('--robustness %s', async (when, expected) => {
    const { report } = await tinySpamSimulation(['--rounds', '2', '--robustness', when]);
    expect(report.status).toBe('complete');
    expect(report.textRobustness !== undefined).toBe(expected.text);
    // Its rounds' own (clean-accuracy) robustness records follow the same schedule as the digits task's.
    expect(report.rounds.map((r) => Boolean(r.robustness))).toEqual(expected.image);
  }, 240_000);
});

describe('--robustness <when> on the digits task: unchanged (the rounds it names carry the image robustness)', () => {
  it.each(WHEN)('--robustness %s', async (when, expected) => {
    const parsed = simulationOptionsFromCommand(await parseOnly(simulateCommand(), ['--sites', '2', '--rounds', '2', '--epochs', '1', '--max-examples', '16', '--federated-eval', 'never', '--robustness', when]));
    // A cheap evaluation, as a config file would give it (under the command line's --robustness).
    const cheap: RunConfigFile = { path: 'cheap.json', format: 'json', values: { robustness: { examples: 20, adversarialExamples: 10, pgdSteps: 2, noise: false, corruptions: false, fgsm: [0.1], pgd: false } }, locate: () => undefined };
    const { report } = await runSimulation({ ...parsed, configFile: cheap, out: tempDir(), transport: 'memory', workers: 1 });
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => Boolean(r.robustness))).toEqual(expected.image);
    expect(report.textRobustness).toBeUndefined();
  }, 240_000);
});

/**
 * robustness.seed seeds the text robustness evaluation's sample of e-mails and its corruptions. Before 2026-12-07
 * the text evaluation ignored it (always seed 0) while the image one took it.
 */
describe('robustness.seed on the spam task seeds the text robustness evaluation', () => {
  it.each<[string, number | undefined, number]>([
    ['not given: the evaluation\'s own seed', undefined, 0],
    ['7', 7, 7],
  ])('%s', async (_name, seed, reported) => {
    const file: RunConfigFile = { path: 'seed.json', format: 'json', values: seed === undefined ? {} : { robustness: { seed } }, locate: () => undefined };
    const { report } = await tinySpamSimulation(['--rounds', '1'], file);
    expect(report.status).toBe('complete');
    expect(report.textRobustness!.seed).toBe(reported);
  }, 240_000);
});
