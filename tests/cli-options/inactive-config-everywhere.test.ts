import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore, createCoordinatorServer, mergeRunConfig, resumeRunConfig, type CoordinatorServer, type PartialRunConfigInput } from '@fedtune/coordinator';
import type { RunReport } from '@fedtune/shared';
import { coordinatorCommand, coordinatorRunConfig } from '../../cli/src/commands/coordinator-command.ts';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { simulationRunConfig } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';
import { parseOnly } from './parse-command.ts';

/**
 * A run config with a setting that can have no effect (coordinator/src/config/inactive-run-config.ts) is refused
 * the same way wherever it enters: a `--config` file (coordinator and simulate), the flags that say the same, a
 * body posted to `POST /api/runs` (a typed 400 with one bounded line), and a resume's file or flags
 * (`fedtune coordinator --resume`). The configs it is about, in their active shape, are accepted everywhere.
 */
interface Row {
  config: PartialRunConfigInput;
  /** The field named in the refusal (the fedprox row names the strategy's option in its own words). */
  field?: string;
  /** The same settings as flags, and the flag named in the refusal. */
  flags?: { argv: string[]; named: string };
  /** What the refusal says the field needs (the same line everywhere, after the field's name). */
  needs: RegExp;
}

const REFUSED: Record<string, Row> = {
  'example-weight cap with a strategy that ignores counts and no federated evaluation': {
    config: { strategy: 'fedmedian', federatedEvaluation: 'never', exampleWeightCap: 2 },
    field: 'exampleWeightCap',
    flags: { argv: ['--strategy', 'fedmedian', '--federated-eval', 'never', '--example-weight-cap', '2'], named: '--example-weight-cap' },
    needs: /has no effect here: it bounds example-count weights.*this run has none of them$/,
  },
  'PGD steps with FGSM': {
    config: { train: { adversarial: { eps: 0.1, method: 'fgsm', steps: 3 } } as never },
    field: 'train.adversarial.steps',
    flags: { argv: ['--adv-eps', '0.1', '--adv-method', 'fgsm', '--adv-steps', '3'], named: '--adv-steps' },
    needs: /has no effect here: it sets the PGD \/ TRADES iterations: FGSM takes one step/,
  },
  'an adversarial norm with ε 0': {
    config: { train: { adversarial: { eps: 0, norm: 'l2' } } as never },
    field: 'train.adversarial.norm',
    flags: { argv: ['--adv-eps', '0', '--adv-norm', 'l2'], named: '--adv-norm' },
    needs: /has no effect here: it sets adversarial training, which ε 0 or share 0 turns off/,
  },
  'an adversarial ε with share 0': {
    config: { train: { adversarial: { eps: 0.1, share: 0 } } as never },
    field: 'train.adversarial.eps',
    flags: { argv: ['--adv-eps', '0.1', '--adv-share', '0'], named: '--adv-eps' },
    needs: /has no effect here: it is the radius of adversarial training, which share 0 turns off/,
  },
  'a step schedule whose step never comes': {
    config: { rounds: 4, train: { learningRateSchedule: { kind: 'step', every: 4 } } as never },
    field: 'train.learningRateSchedule',
    flags: { argv: ['--rounds', '4', '--lr-schedule', 'step:4'], named: '--lr-schedule' },
    needs: /has no effect here: it never changes the rate: step:EVERY needs EVERY below the run's rounds/,
  },
  'an ε warm-up longer than the run': {
    config: { rounds: 2, train: { adversarial: { eps: 0.1, warmupRounds: 5 } } as never },
    field: 'train.adversarial.warmupRounds',
    flags: { argv: ['--rounds', '2', '--adv-eps', '0.1', '--adv-warmup', '5'], named: '--adv-warmup' },
    needs: /has no effect here: it ends after the run: a warm-up of k rounds reaches ε \(--adv-eps\) in round k, so k above the run's rounds \(--rounds\) never trains at ε/,
  },
  'fedprox with a different train.proximalMu': {
    config: { strategy: 'fedprox', strategyOptions: { proximalMu: 0.1 }, train: { proximalMu: 0.5 } as never },
    needs: /^train\.proximalMu 0\.5 is replaced by strategy "fedprox", which sends its option proximalMu \(0\.1\)/,
  },
};

const ACCEPTED: Record<string, PartialRunConfigInput> = {
  'example-weight cap where federated evaluation weighs sites': { strategy: 'fedmedian', exampleWeightCap: 2 },
  'example-weight cap of a weighted average': { exampleWeightCap: 2, federatedEvaluation: 'never' },
  'PGD steps with PGD': { train: { adversarial: { eps: 0.1, method: 'pgd', steps: 3 } } as never },
  'ε 0 alone (adversarial training off)': { train: { adversarial: { eps: 0 } } as never },
  'a step schedule within the rounds': { rounds: 8, train: { learningRateSchedule: { kind: 'step', every: 4 } } as never },
  'an ε warm-up as long as the run (its last round at ε)': { rounds: 5, train: { adversarial: { eps: 0.1, warmupRounds: 5 } } as never },
  'fedprox with the same μ in both places': { strategy: 'fedprox', strategyOptions: { proximalMu: 0.1 }, train: { proximalMu: 0.1 } as never },
  // Mode fields in a file or body are a template, not a typed flag: accepted (only a typed flag is refused).
  'personalization fields with personalization off': { personalization: { mode: 'none', epochs: 3 } as never },
};

const dir = tempDir();
let files = 0;
const writeConfig = (config: PartialRunConfigInput) => {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, JSON.stringify(config));
  return path;
};

async function fileOrFlags(command: 'coordinator' | 'simulate', argv: string[]) {
  if (command === 'coordinator') return coordinatorRunConfig(await parseOnly(coordinatorCommand(), argv)).config;
  return simulationRunConfig(simulationOptionsFromCommand(await parseOnly(simulateCommand(), argv)));
}

/** A run `r1` in a fresh runs directory with a checkpoint of round 1 (what a killed coordinator leaves). */
async function checkpointedRun(): Promise<string> {
  const runsDir = tempDir();
  const config = mergeRunConfig(undefined, { runId: 'r1', rounds: 6 });
  const report = { schemaVersion: 1, runId: 'r1', status: 'running', startedAt: '', updatedAt: '', config, backend: 'cpu', model: { architecture: 'mlp', parameters: 2 }, rounds: [] } as unknown as RunReport;
  await new CheckpointStore(join(runsDir, 'r1')).write({ runId: 'r1', round: 1, weights: { manifest: [{ name: 'w', shape: [2], dtype: 'float32' }], arrays: [new Float32Array(2)] }, strategyState: null, rng: {}, report });
  return runsDir;
}

const refusal = (row: Row, named: string | undefined) => ({ code: 'config', message: expect.stringMatching(new RegExp(`${named ? `^${named.replace(/[.()]/g, '\\$&')} ` : ''}${row.needs.source.replace(/^\^/, '')}`)) });

describe('a setting with no effect is refused the same way wherever the run config enters', () => {
  let server: CoordinatorServer;
  let runsDir: string;
  beforeAll(async () => {
    // A coordinator that creates runs over HTTP (`--serve-only`); none is started here, so no model is loaded.
    server = createCoordinatorServer({ runsDir: tempDir(), architecture: 'mlp', backend: 'cpu', transport: 'socket', maxMessageBytes: 16 * 1024 * 1024, apiRateLimit: false, database: false, loadModel: () => Promise.reject(new Error('no run is started in this test')) });
    runsDir = await checkpointedRun();
  });
  afterAll(async () => {
    await server?.close();
  });
  const post = (body: unknown) => server.app!.app.inject({ method: 'POST', url: '/api/runs', payload: body as never });

  it.each(Object.entries(REFUSED))('%s: refused from a config file (coordinator and simulate), naming the field and the file', async (_, row) => {
    const path = writeConfig(row.config);
    const named = row.field && `${row.field} (in ${path.split('/').pop()})`;
    for (const command of ['coordinator', 'simulate'] as const) await expect(fileOrFlags(command, ['--config', path]), command).rejects.toMatchObject(refusal(row, named));
  });

  it.each(Object.entries(REFUSED).filter(([, row]) => row.flags))('%s: refused from the flags that say the same, naming the flag', async (_, row) => {
    for (const command of ['coordinator', 'simulate'] as const) await expect(fileOrFlags(command, row.flags!.argv), command).rejects.toMatchObject(refusal(row, row.flags!.named));
  });

  it.each(Object.entries(REFUSED))('%s: refused over HTTP with a typed 400 and one bounded line naming the field; no run is created', async (_, row) => {
    const res = await post({ ...row.config, runId: 'refused' });
    expect(res.statusCode).toBe(400);
    const { error } = res.json() as { error: { code: string; message: string } };
    expect(error).toMatchObject(refusal(row, row.field));
    expect(error.message).not.toMatch(/\n/);
    expect(error.message.length).toBeLessThan(400);
    expect((await server.app!.app.inject({ method: 'GET', url: '/api/runs' })).json().runs).toEqual([]);
  });

  it.each(Object.entries(REFUSED))('%s: refused when a resume gives it (config file, flags), naming it as for a new run', async (_, row) => {
    const path = writeConfig(row.config);
    const named = row.field && `${row.field} (in ${path.split('/').pop()})`;
    await expect(fileOrFlags('coordinator', ['--resume', 'r1', '--out', runsDir, '--config', path])).rejects.toMatchObject(refusal(row, named));
    if (row.flags) await expect(fileOrFlags('coordinator', ['--resume', 'r1', '--out', runsDir, ...row.flags.argv])).rejects.toMatchObject(refusal(row, row.flags.named));
    // The coordinator's own entry (what the CLI calls), with the settings as a partial config.
    expect(() => resumeRunConfig(runsDir, 'r1', { flags: row.config })).toThrow(expect.objectContaining(refusal(row, row.field)));
  });

  it.each(Object.entries(ACCEPTED))('%s: accepted from a file, over HTTP and on resume', async (name, config) => {
    const path = writeConfig(config);
    for (const command of ['coordinator', 'simulate'] as const) await expect(fileOrFlags(command, ['--config', path]), command).resolves.toBeTruthy();
    const res = await post({ ...config, runId: `accepted-${files}` });
    expect(res.statusCode, name).toBe(201);
    await expect(fileOrFlags('coordinator', ['--resume', 'r1', '--out', runsDir, '--config', path])).resolves.toBeTruthy();
  });

  it('a resume that gives nothing new is not refused for what the run was started with', () => {
    expect(resumeRunConfig(runsDir, 'r1', { flags: { runId: 'r1' } }).config.rounds).toBe(6);
  });
});
