import { describe, expect, it } from 'vitest';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { simulationRunConfig } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';
import { parseOnly } from './parse-command.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pretrainCommand } from '../../cli/src/commands/pretrain-command.ts';
import { clientCommand } from '../../cli/src/commands/client-command.ts';
import { workerCommand } from '../../cli/src/commands/worker-command.ts';
import { sweepCommand, sweepSettingsFromCommand } from '../../cli/src/commands/sweep-command.ts';

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

/** `fedtune sweep ARGV`, whose runSweep must not be reached (the refusal comes first). */
async function sweep(argv: string[]) {
  const command = sweepCommand({ runSweep: async () => { throw new Error('the sweep ran'); } });
  await command.exitOverride().parseAsync([...argv, '--backend', 'cpu'], { from: 'user' });
}
const aFile = join(dir, 'a-file');
writeFileSync(aFile, 'x');
const recordIsADirectory = join(dir, 'record-is-a-directory');
mkdirSync(join(recordIsADirectory, 'sweep.json'), { recursive: true });

type Row = [what: string, run: () => Promise<unknown>, message: string | RegExp];

const rows: Row[] = [
  ['simulate --run-id ../escape: the run config\'s issues on one line', () => simulateConfig(['--run-id', '../escape']), /^invalid run configuration: command line --run-id: runId: [^\n]+$/],
  ['simulate --average-rounds above --rounds', () => simulateConfig(['--rounds', '2', '--average-rounds', '5']), "--average-rounds has no effect here: it averages the last N rounds' global models: N above the run's rounds (--rounds) has fewer rounds to average"],
  ['sweep --eta with one rung (--min-rounds = --max-rounds)', async () => sweepSettingsFromCommand(await parseOnly(sweepCommand(), ['--param', 'train.learningRate=0.1,0.2', '--min-rounds', '3', '--max-rounds', '3', '--eta', '3'])), '--eta has no effect here: it sets how many trials each rung keeps, and --min-rounds 3 = --max-rounds 3 makes one rung'],
  ['sweep --out FILE', () => sweep(['--out', aFile]), `--out ${aFile} is a file, not a directory: give a directory for the sweep (it is created if missing)`],
  ['sweep --out DIR whose sweep.json is a directory', () => sweep(['--out', recordIsADirectory]), `--out ${recordIsADirectory}: ${join(recordIsADirectory, 'sweep.json')} is a directory, not a sweep record: move it away or give another --out`],
  ['worker --partition shards:2 names the worker\'s own flag (not simulate\'s --site-data)', () => workerCommand({ runVirtualSites: () => { throw new Error('sites ran'); } }).exitOverride().parseAsync(['--server', 'http://127.0.0.1:9', '--virtual-sites', '0-1', '--partition', 'shards:2'], { from: 'user' }), '--partition (each virtual site resamples its digits) takes iid or dirichlet:ALPHA, not shards'],
  ['pretrain --task spam --arch cnn', () => pretrainCommand().exitOverride().parseAsync(['--task', 'spam', '--arch', 'cnn', '--out', join(dir, 'pretrained')], { from: 'user' }), '--arch has no effect with --task spam: the spam task runs its text-cnn'],
  ['pretrain --arch foo lists the digits task\'s architectures (not text-cnn)', () => pretrainCommand().exitOverride().parseAsync(['--arch', 'foo', '--out', join(dir, 'pretrained')], { from: 'user' }), 'unknown architecture "foo" for the digits task (known: mlp, cnn, cnn-bn, cnn-dense, cnn-wide)'],
  ['pretrain --arch text-cnn (the spam task\'s)', () => pretrainCommand().exitOverride().parseAsync(['--arch', 'text-cnn', '--out', join(dir, 'pretrained')], { from: 'user' }), /^unknown architecture "text-cnn" for the digits task/],
  ['client --check-only --server (help: "not with --check-only")', () => clientCommand({ runNodeSite: (() => { throw new Error('the site ran'); }) as never }).exitOverride().parseAsync(['--check-only', '--server', 'http://127.0.0.1:1', '--data', 'digits:1/4'], { from: 'user' }), '--server has no effect with --check-only: it checks the data and exits without joining'],
];

describe('refused in one config line', () => {
  it('their neighbours are accepted', async () => {
    expect((await simulateConfig(['--rounds', '5', '--average-rounds', '5'])).averageRounds).toBe(5);
    expect(sweepSettingsFromCommand(await parseOnly(sweepCommand(), ['--param', 'train.learningRate=0.1,0.2', '--min-rounds', '1', '--max-rounds', '3', '--eta', '3'])).eta).toBe(3);
  });

  it.each(rows)('%s', async (_what, run, message) => {
    const refusal = await Promise.resolve().then(run).then(() => undefined, (err: unknown) => err);
    expect(refusal, 'refused').toMatchObject({ code: 'config' });
    const text = (refusal as Error).message;
    expect(text).not.toContain('\n');
    if (typeof message === 'string') expect(text).toBe(message);
    else expect(text).toMatch(message);
  });
});
