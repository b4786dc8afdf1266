import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { selectNodeBackend } from '@fedtune/shared/node';
import { partitionCommand } from '../../cli/src/commands/partition-command.ts';
import { pretrainCommand } from '../../cli/src/commands/pretrain-command.ts';
import { dpEpsilonCommand } from '../../cli/src/commands/dp-epsilon-command.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * `fedtune partition`, `pretrain` and `dp-epsilon`: every option has a row with a check that a non-default value
 * has its effect (the commands' option lists are walked, so a new option without a row fails), as
 * command-options.test.ts does for simulate, coordinator and client and evaluate-options.test.ts for evaluate.
 * `pretrain` always writes to a temporary --out here (its default is the committed checkpoint).
 */

const logs: string[] = [];
beforeAll(() => void vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args.join(' '))));
afterAll(() => vi.restoreAllMocks());

async function run(command: () => Command, argv: string[]): Promise<string[]> {
  logs.length = 0;
  await command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }).parseAsync(argv, { from: 'user' });
  return [...logs];
}
const flagsOf = (command: Command) => command.options.map((o) => o.long!).filter((f) => f !== '--help').sort();
type Row = [flag: string, check: () => Promise<void>];

// ---- partition --------------------------------------------------------------------------------------

/** The site files' example counts and class counts, from the command's lines. */
async function partition(extra: string[]): Promise<{ dir: string; sites: Array<{ examples: number; classes: number[] }> }> {
  const dir = tempDir('fedtune-partition-');
  const lines = await run(partitionCommand, ['--out', dir, ...extra]);
  const sites = lines.filter((l) => /site-\d+\.csv: /.test(l)).map((l) => {
    const m = /: (\d+) examples, classes (\[.*\])/.exec(l)!;
    return { examples: Number(m[1]), classes: JSON.parse(m[2]!) as number[] };
  });
  return { dir, sites };
}

const partitionRows: Row[] = [
  ['--task', async () => {
    await expect(run(partitionCommand, ['--out', tempDir(), '--task', 'spam'])).rejects.toThrow(/the only built-in task is digits/);
    expect((await partition(['--task', 'digits', '--sites', '2'])).sites).toHaveLength(2);
  }],
  ['--sites', async () => {
    const { dir, sites } = await partition(['--sites', '3']);
    expect(sites).toHaveLength(3);
    expect(readdirSync(dir).sort()).toEqual(['holdout.csv', 'site-1.csv', 'site-2.csv', 'site-3.csv']);
    expect((await partition([])).sites).toHaveLength(8); // the default
  }],
  ['--partition', async () => {
    // iid: every site holds every class in like proportions; the default Dirichlet(0.5) leaves some classes (nearly) absent.
    const spread = (classes: number[]) => Math.min(...classes) / Math.max(...classes);
    const iid = (await partition(['--sites', '4', '--partition', 'iid'])).sites;
    const skewed = (await partition(['--sites', '4'])).sites;
    expect(Math.min(...iid.map((s) => spread(s.classes)))).toBeGreaterThan(0.3);
    expect(Math.min(...skewed.map((s) => spread(s.classes)))).toBeLessThan(0.1);
  }],
  ['--seed', async () => {
    const a = (await partition(['--sites', '4', '--seed', '1'])).sites.map((s) => s.examples);
    const b = (await partition(['--sites', '4', '--seed', '2'])).sites.map((s) => s.examples);
    expect(a).not.toEqual(b);
    expect((await partition(['--sites', '4', '--seed', '1'])).sites.map((s) => s.examples)).toEqual(a);
  }],
  ['--out', async () => {
    const { dir } = await partition(['--sites', '2']);
    const header = readFileSync(join(dir, 'site-1.csv'), 'utf8').split('\n', 1)[0]!;
    expect(header.split(',')).toHaveLength(785);
  }],
];

// ---- pretrain ---------------------------------------------------------------------------------------

async function pretrain(extra: string[]): Promise<{ dir: string; weights: Buffer; topology: string; lines: string[] }> {
  const dir = tempDir('fedtune-pretrain-');
  const lines = await run(pretrainCommand, ['--out', dir, '--epochs', '1', ...extra]);
  return { dir, weights: readFileSync(join(dir, 'weights.bin')), topology: readFileSync(join(dir, 'model.json'), 'utf8'), lines };
}

let mlp1: Awaited<ReturnType<typeof pretrain>>;
const pretrainRows: Row[] = [
  ['--task', async () => {
    const spam = await pretrain(['--task', 'spam']);
    expect(existsSync(join(spam.dir, 'vocab.json'))).toBe(true);
    expect(spam.lines.some((l) => /^pretrained text-cnn on \d+ source e-mails/.test(l))).toBe(true);
  }],
  ['--arch', async () => {
    const cnn = await pretrain(['--arch', 'cnn']);
    expect(cnn.topology).toContain('Conv2D');
    expect(mlp1.topology).not.toContain('Conv2D');
  }],
  ['--epochs', async () => {
    const two = await pretrain(['--epochs', '2']);
    expect(two.weights.equals(mlp1.weights)).toBe(false);
    expect((await pretrain([])).weights.equals(mlp1.weights)).toBe(true); // one epoch again: the same model
  }],
  ['--seed', async () => expect((await pretrain(['--seed', '2'])).weights.equals(mlp1.weights)).toBe(false)],
  ['--out', async () => {
    expect(mlp1.lines.at(-1)).toBe(mlp1.dir);
    expect(readdirSync(mlp1.dir).sort()).toEqual(['model.json', 'weights.bin']);
  }],
  ['--backend', async () => {
    try {
      const lines = (await pretrain(['--backend', 'cpu'])).lines;
      expect(lines[0]).toMatch(/^tfjs backend: cpu/);
      expect(tf.getBackend()).toBe('cpu');
    } finally {
      await selectNodeBackend();
    }
  }],
];

// ---- dp-epsilon -------------------------------------------------------------------------------------

const BASE_DP = { '--sampling-rate': '0.01', '--noise': '1.1', '--steps': '1000', '--delta': '1e-5' };
async function epsilon(change: Record<string, string> = {}, extra: string[] = []): Promise<{ epsilon: number; order: number; conversion: string; lines: string[] }> {
  const args = Object.entries({ ...BASE_DP, ...change }).flat();
  const lines = await run(dpEpsilonCommand, [...args, '--json', ...extra]);
  return { ...JSON.parse(lines[0]!), lines };
}

let base: Awaited<ReturnType<typeof epsilon>>;
const dpRows: Row[] = [
  ['--sampling-rate', async () => expect((await epsilon({ '--sampling-rate': '0.02' })).epsilon).toBeGreaterThan(base.epsilon)],
  ['--noise', async () => {
    expect((await epsilon({ '--noise': '2' })).epsilon).toBeLessThan(base.epsilon);
    expect((await epsilon({ '--noise': '0' })).epsilon).toBeNull(); // no privacy
  }],
  ['--steps', async () => expect((await epsilon({ '--steps': '2000' })).epsilon).toBeGreaterThan(base.epsilon)],
  ['--delta', async () => expect((await epsilon({ '--delta': '1e-3' })).epsilon).toBeLessThan(base.epsilon)],
  ['--conversion', async () => {
    expect(base.conversion).toBe('improved');
    const classic = await epsilon({}, ['--conversion', 'classic']);
    expect(classic.conversion).toBe('classic');
    // The improved conversion (Balle et al. 2020) is never looser than the classic one.
    expect(classic.epsilon).toBeGreaterThan(base.epsilon);
  }],
  ['--json', async () => {
    expect(base.lines).toHaveLength(1);
    const text = await run(dpEpsilonCommand, Object.entries(BASE_DP).flat());
    expect(text[0]).toMatch(/^ε = \d+\.\d{4} at δ = 1e-5 \(best RDP order [\d.]+\)$/);
    expect(Number(/ε = ([\d.]+)/.exec(text[0]!)![1])).toBeCloseTo(base.epsilon, 4);
  }],
];

describe('every option of partition, pretrain and dp-epsilon has an effect', () => {
  beforeAll(async () => {
    await selectNodeBackend();
    mlp1 = await pretrain([]);
    base = await epsilon();
  }, 120_000);

  it.each<[string, () => Command, Row[]]>([
    ['partition', partitionCommand, partitionRows],
    ['pretrain', pretrainCommand, pretrainRows],
    ['dp-epsilon', dpEpsilonCommand, dpRows],
  ])('%s has a row for every option', (_name, command, rows) => {
    expect(rows.map(([flag]) => flag).sort()).toEqual(flagsOf(command()));
  });

  it.each(partitionRows)('partition %s', async (_flag, check) => check(), 60_000);
  it.each(pretrainRows)('pretrain %s', async (_flag, check) => check(), 120_000);
  it.each(dpRows)('dp-epsilon %s', async (_flag, check) => check(), 30_000);

  it.each([
    [dpEpsilonCommand, ['--sampling-rate', '1.5', '--noise', '1', '--steps', '1', '--delta', '1e-5'], /sampling-rate/],
    [dpEpsilonCommand, ['--sampling-rate', '0.1', '--noise', '-1', '--steps', '1', '--delta', '1e-5'], /noise/],
    [dpEpsilonCommand, ['--sampling-rate', '0.1', '--noise', '1', '--steps', '2.5', '--delta', '1e-5'], /steps/],
    [dpEpsilonCommand, ['--sampling-rate', '0.1', '--noise', '1', '--steps', '1', '--delta', '1'], /delta/],
    [partitionCommand, ['--out', '/tmp/never-written', '--sites', '0'], /sites/],
    [partitionCommand, ['--out', '/tmp/never-written', '--partition', 'bogus'], /partition/],
    [pretrainCommand, ['--out', '/tmp/never-written', '--epochs', '0'], /epochs/],
    [pretrainCommand, ['--out', '/tmp/never-written', '--arch', 'resnet'], /unknown architecture "resnet"/],
  ] as const)('refuses bad values with one clear error (%#)', async (command, argv, message) => {
    await expect(run(command, [...argv])).rejects.toThrow(message);
    expect(existsSync('/tmp/never-written')).toBe(false);
  });
});
