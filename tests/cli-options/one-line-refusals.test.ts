import { describe, expect, it } from 'vitest';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { simulationRunConfig } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';
import { parseOnly } from './parse-command.ts';

/**
 * Options that would be silently ignored, or mistakes whose error was not one line, found by a QA review of the
 * CLI: each is refused with one `FedtuneError('config')` line saying why (one row each, as in
 * command-options.test.ts).
 */

const dir = tempDir('fedtune-one-line-refusals-');

/** The run config `fedtune simulate ARGV` would start (its options as the command builds them). */
async function simulateConfig(argv: string[]) {
  return simulationRunConfig(simulationOptionsFromCommand(await parseOnly(simulateCommand(), ['--out', dir, ...argv])));
}

type Row = [what: string, run: () => Promise<unknown>, message: string | RegExp];

const rows: Row[] = [
  ['simulate --run-id ../escape: the run config\'s issues on one line', () => simulateConfig(['--run-id', '../escape']), /^invalid run configuration: command line --run-id: runId: [^\n]+$/],
];

describe('refused in one config line', () => {
  it.each(rows)('%s', async (_what, run, message) => {
    const refusal = await Promise.resolve().then(run).then(() => undefined, (err: unknown) => err);
    expect(refusal, 'refused').toMatchObject({ code: 'config' });
    const text = (refusal as Error).message;
    expect(text).not.toContain('\n');
    if (typeof message === 'string') expect(text).toBe(message);
    else expect(text).toMatch(message);
  });
});
