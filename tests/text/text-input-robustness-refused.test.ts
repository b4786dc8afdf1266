import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { startCoordinator } from '@fedtune/coordinator';
import { coordinatorCommand } from '../../cli/src/commands/coordinator-command.ts';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { parseOnly } from '../cli-options/parse-command.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * Input-space robustness settings on the text task. Before 2026-12-07 `fedtune simulate --task spam --certify`
 * aborted the run after its last round ("GatherV2: the index value -1 is not in [0, 4999]": Gaussian noise on
 * token ids), `--site-robustness final` made every site fail ("internal") and left an empty per-site report, and
 * a config file's robustness.pgd / fgsm aborted the spam run (GatherV2), robustness.noise reported noise on
 * token ids, and the attacks' settings (adversarialExamples, pgdSteps, …) changed nothing.
 * Each is now refused in one line before anything runs; the digits task takes them as before.
 */
function configFile(values: unknown): string {
  const path = join(tempDir(), 'run.json');
  writeFileSync(path, JSON.stringify(values));
  return path;
}

const ROWS: Array<[string, () => string[], RegExp]> = [
  ['--certify', () => ['--certify'], /^--certify \(robustness\.certify\) does not apply to a text model: randomized smoothing adds Gaussian noise to the input, and a text model's input is token ids/],
  ['--site-robustness final', () => ['--site-robustness', 'final'], /^--site-robustness final \(siteRobustness\.when\) does not apply to a text model: it perturbs each site's test inputs/],
  ['robustness.pgd in a config file', () => ['--config', configFile({ robustness: { pgd: [0.1] } })], /^robustness\.pgd does not apply to the spam task: a text model's input is token ids/],
  ['robustness.noise in a config file', () => ['--config', configFile({ robustness: { noise: true } })], /^robustness\.noise does not apply to the spam task/],
  ['robustness.fgsm in a config file', () => ['--config', configFile({ robustness: { fgsm: [0.05] } })], /^robustness\.fgsm does not apply to the spam task/],
  ['robustness.adversarialExamples in a config file', () => ['--config', configFile({ robustness: { adversarialExamples: 50 } })], /^robustness\.adversarialExamples sets the input-space attacks, which the spam task does not run/],
  ['robustness.pgdSteps in a config file', () => ['--config', configFile({ robustness: { pgdSteps: 5 } })], /^robustness\.pgdSteps sets the input-space attacks, which the spam task does not run/],
];

describe('fedtune simulate --task spam: input-space robustness is refused in one line', () => {
  it('--preset robust (an image model\'s PGD and Square Attack comparison): refused before anything runs', async () => {
    const command = await parseOnly(simulateCommand(), ['--task', 'spam', '--preset', 'robust']);
    expect(() => simulationOptionsFromCommand(command)).toThrow(/^--preset robust is for the digits task: it compares plain and adversarial fine-tuning of an image model/);
  });

  it.each(ROWS)('%s', async (_name, flags, message) => {
    const parsed = simulationOptionsFromCommand(await parseOnly(simulateCommand(), ['--task', 'spam', '--sites', '2', '--rounds', '1', ...flags()]));
    const err = await runSimulation({ ...parsed, out: tempDir(), transport: 'memory', workers: 1 }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'config', message: expect.stringMatching(message) });
    expect((err as Error).message).not.toContain('\n');
  }, 60_000);
});

/** `fedtune coordinator ARGV`: whether it would start a run (a recording stand-in), or the error it refused with. */
async function coordinatorStarts(argv: string[]): Promise<boolean> {
  let started = false;
  const command = coordinatorCommand({
    startCoordinator: (async () => {
      started = true;
      throw new Error('recorded: not started');
    }) as unknown as typeof startCoordinator,
    createCoordinatorServer: (() => {
      throw new Error('not used');
    }) as never,
  });
  command.exitOverride();
  const log = console.log;
  console.log = () => {};
  try {
    await command.parseAsync(['--out', join(tempDir(), 'runs'), '--port', '0', ...argv], { from: 'user' });
  } catch (err) {
    if (!started) throw err;
  } finally {
    console.log = log;
  }
  return started;
}

describe('fedtune coordinator --task spam: the same refusals; --task digits takes the same flags', () => {
  it.each(ROWS)('%s', async (_name, flags, message) => {
    await expect(coordinatorStarts(['--task', 'spam', ...flags()])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(message) });
    expect(await coordinatorStarts(['--task', 'digits', ...flags()])).toBe(true);
  }, 60_000);

  it('--task spam without them starts', async () => {
    expect(await coordinatorStarts(['--task', 'spam'])).toBe(true);
  }, 60_000);
});
