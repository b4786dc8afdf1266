import { describe, expect, it } from 'vitest';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { parseOnly } from '../cli-options/parse-command.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * `fedtune simulate --task spam --robustness-examples N`: the text robustness of the final model is evaluated on N
 * holdout e-mails. Before 2026-12-07 the flag was accepted and silently ignored for the text task (always 300).
 * Each row parses the command line as the CLI does, then runs the tiny spam federation in this process with a
 * cheap evaluation (one corruption at one rate, no substitution attack): the default here is its 12 e-mails.
 */
describe('--robustness-examples on the spam task bounds the text robustness evaluation', () => {
  it.each<[string, string[], number]>([
    ['not given: the evaluation\'s own number', [], 12],
    ['5', ['--robustness-examples', '5'], 5],
    ['20', ['--robustness-examples', '20'], 20],
  ])('%s', async (_name, flags, examples) => {
    const parsed = simulationOptionsFromCommand(await parseOnly(simulateCommand(), ['--task', 'spam', '--sites', '2', '--rounds', '1', '--epochs', '1', '--partition', 'collection', '--federated-eval', 'never', ...flags]));
    const { report } = await runSimulation({
      ...parsed,
      out: tempDir(),
      transport: 'memory',
      workers: 1,
      textRobustness: { examples: 12, corruptions: ['char-drop'], severities: [0.1], substitution: undefined },
    });
    expect(report.status).toBe('complete');
    expect(report.textRobustness!.examples).toBe(examples);
    expect(report.textRobustness!.corruptions[0]!.severities[0]!.accuracy).toBeGreaterThan(0);
  }, 240_000);
});
