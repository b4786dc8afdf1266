import type { RunConfigFile } from '@fedtune/coordinator';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { parseOnly } from '../cli-options/parse-command.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * A tiny spam federation run in this process from a command line parsed as the CLI parses it (2 sites, 1 epoch,
 * collection partition, no federated evaluation, then `flags`), with a cheap text robustness evaluation (12
 * e-mails, one corruption at one rate, no substitution attack); `configFile` as `--config` would give it.
 */
export async function tinySpamSimulation(flags: string[], configFile?: RunConfigFile) {
  const parsed = simulationOptionsFromCommand(await parseOnly(simulateCommand(), ['--task', 'spam', '--sites', '2', '--epochs', '1', '--partition', 'collection', '--federated-eval', 'never', ...flags]));
  return runSimulation({
    ...parsed,
    ...(configFile ? { configFile } : {}),
    out: tempDir(),
    transport: 'memory',
    workers: 1,
    textRobustness: { examples: 12, corruptions: ['char-drop'], severities: [0.1], substitution: undefined },
  });
}
