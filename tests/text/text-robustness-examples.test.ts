import { describe, expect, it } from 'vitest';
import { tinySpamSimulation } from './tiny-spam-simulation.ts';

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
    const { report } = await tinySpamSimulation(['--rounds', '1', ...flags]);
    expect(report.status).toBe('complete');
    expect(report.textRobustness!.examples).toBe(examples);
    expect(report.textRobustness!.corruptions[0]!.severities[0]!.accuracy).toBeGreaterThan(0);
  }, 240_000);
});
