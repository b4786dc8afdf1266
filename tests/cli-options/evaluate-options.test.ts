import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { ROBUSTNESS_DEFAULTS, RobustnessReportSchema, subset, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend, writeCsvDataset } from '@fedtune/shared/node';
import { evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';
import { tempDir } from '../helpers/federation.ts';
import { saveModelDir } from '../helpers/save-model-dir.ts';

/**
 * Every option of `fedtune evaluate` has a row here with a check that a non-default value reaches the report
 * (or the run) — the command's option list is walked, so a new option without a row fails — and the numeric
 * options refuse what their schema refuses with one line naming the flag (they were parsed with `Number`:
 * `--pgd-step-size abc` ended in an internal wasm-kernel error, `-1` and `0` ran).
 */

const dir = tempDir('fedtune-evaluate-options-');
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const pixels = Array.from({ length: 784 }, (_, i) => `p${i}`);
const csv = join(dir, 'digits.csv');
const digitCsv = join(dir, 'digit-column.csv');
const extraColumnsCsv = join(dir, 'extra-columns.csv');
const missingCsv = join(dir, 'missing.csv');
let scaledModelDir = '';
let calibratedModelDir = '';
const logs: string[] = [];
const sha256Of = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Quick: 40 examples, nothing attacked or perturbed unless a row asks. */
const BASE = () => ['--model', pretrainedModelDir('mlp'), '--data', csv, '--examples', '40', '--noise', 'none', '--corruptions', 'none', '--fgsm', 'none', '--pgd', 'none'];

/** The value `extra` gives `flag` (the last), if any. */
const valueOf = (extra: string[], flag: string) => extra[extra.lastIndexOf(flag) + 1];
const on = (extra: string[], flag: string) => extra.includes(flag) && valueOf(extra, flag) !== 'none';

/**
 * Quick attacks where a row turns one on: 10 examples attacked, 2 PGD steps, unless the row sets them (they are
 * refused while every attack, or PGD, is off).
 */
function quickAttacks(extra: string[]): string[] {
  const attacked = ['--fgsm', '--pgd', '--pgd-l2', '--square'].some((f) => on(extra, f));
  const pgd = on(extra, '--pgd') || on(extra, '--pgd-l2');
  return [...(attacked && !extra.includes('--adversarial-examples') ? ['--adversarial-examples', '10'] : []), ...(pgd && !extra.includes('--pgd-steps') ? ['--pgd-steps', '2'] : [])];
}

async function evaluate(extra: string[], base = BASE()): Promise<RobustnessReport & { outPath: string }> {
  const outPath = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  logs.length = 0;
  await evaluateCommand().exitOverride().parseAsync([...base, '--out', outPath, ...quickAttacks(extra), ...extra], { from: 'user' });
  return { ...RobustnessReportSchema.parse(JSON.parse(readFileSync(outPath, 'utf8'))), outPath };
}

async function savedModel(name: string, metadata: Record<string, unknown> | undefined, scale = 1): Promise<string> {
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  try {
    const last = model.layers[model.layers.length - 1]!;
    if (scale !== 1) last.setWeights(last.getWeights().map((w) => tf.tidy(() => w.mul(scale))));
    return await saveModelDir(model, join(dir, name), metadata);
  } finally {
    model.dispose();
  }
}

let base: RobustnessReport;
beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args.join(' ')));
  await selectNodeBackend();
  const data = subset(builtinDigits().holdout, range(40));
  await writeCsvDataset(csv, data);
  const row = (r: number, cell: (v: number, i: number) => string | number) => Array.from(data.x.subarray(r * 784, (r + 1) * 784), cell).join(',');
  writeFileSync(digitCsv, `digit,${pixels.join(',')}\n${range(40).map((r) => `${data.y[r]},${row(r, (v) => v)}`).join('\n')}\n`);
  writeFileSync(extraColumnsCsv, `id,label,${pixels.join(',')}\n${range(40).map((r) => `"row ${r}",${data.y[r]},${row(r, (v) => v)}`).join('\n')}\n`);
  writeFileSync(missingCsv, `label,${pixels.join(',')}\n${range(40).map((r) => `${data.y[r]},${row(r, (v, i) => (r === 3 && i === 100 ? '' : v))}`).join('\n')}\n`);
  scaledModelDir = await savedModel('scaled', undefined, 3);
  calibratedModelDir = await savedModel('calibrated', { round: 1, calibration: { temperature: 1.7, source: 'holdout', fittedOn: 100 } });
  base = await evaluate([]);
});
afterAll(() => vi.restoreAllMocks());

type Row = [flag: string, check: () => Promise<void>];
const certify = ['--certify', '--n0', '5', '--n', '20', '--certify-examples', '4'];

const rows: Row[] = [
  ['--model', async () => {
    // The pretrained MLP with its logits ×3: same predictions, another loss.
    const r = await evaluate(['--model', scaledModelDir]);
    expect(r.clean.accuracy).toBe(base.clean.accuracy);
    expect(r.clean.loss).not.toBeCloseTo(base.clean.loss, 3);
    // The JSON names the model it evaluated: its directory and the SHA-256 of its files (before 2026-12-07 it did not).
    expect(r.model).toEqual({ path: resolve(scaledModelDir), weightsSha256: sha256Of(join(scaledModelDir, 'weights.bin')), modelJsonSha256: sha256Of(join(scaledModelDir, 'model.json')) });
    expect(base.model!.weightsSha256).toBe(sha256Of(join(pretrainedModelDir('mlp'), 'weights.bin')));
    expect(base.model!.weightsSha256).not.toBe(r.model!.weightsSha256);
  }],
  ['--data', async () => {
    // The built-in holdout (1,000 digits, the task's headline ε among the attacks) instead of the 40-row CSV.
    const r = await evaluate(['--data', 'digits-holdout', '--examples', '60', '--fgsm', '0.1']);
    expect(r.examples).toBe(60);
    expect(base.headlineEps).toBeUndefined();
    expect(r.headlineEps).toBeDefined();
    // The JSON names the data: the built-in set it resolved to, or the CSV's path and SHA-256.
    expect(r.data).toEqual({ builtin: 'digits-holdout-scanned' });
    expect(base.data).toEqual({ path: resolve(csv), sha256: sha256Of(csv) });
  }],
  ['--out', async () => {
    const r = await evaluate([]);
    expect(existsSync(r.outPath)).toBe(true);
    expect(logs).toContain(r.outPath);
  }],
  ['--label-column', async () => {
    await expect(evaluate(['--data', digitCsv])).rejects.toThrow(/label/);
    expect((await evaluate(['--data', digitCsv, '--label-column', 'digit'])).clean.accuracy).toBe(base.clean.accuracy);
  }],
  ['--feature-columns', async () => {
    expect((await evaluate(['--data', extraColumnsCsv, '--feature-columns', pixels.join(',')])).clean.accuracy).toBe(base.clean.accuracy);
  }],
  ['--impute', async () => {
    await expect(evaluate(['--data', missingCsv])).rejects.toThrow(/--impute/);
    expect((await evaluate(['--data', missingCsv, '--impute', 'median'])).examples).toBe(40);
  }],
  ['--examples', async () => expect((await evaluate(['--examples', '25'])).examples).toBe(25)],
  ['--adversarial-examples', async () => expect((await evaluate(['--fgsm', '0.1', '--adversarial-examples', '7'])).adversarialExamples).toBe(7)],
  ['--noise', async () => expect((await evaluate(['--noise', '0.3,0.4'])).noise.map((n) => n.sigma)).toEqual([0.3, 0.4])],
  ['--corruptions', async () => expect((await evaluate(['--corruptions', 'fog'])).corruptions.map((c) => c.name)).toEqual(['fog'])],
  ['--fgsm', async () => expect((await evaluate(['--fgsm', '0.07'])).fgsm.map((a) => a.eps)).toEqual([0.07])],
  ['--pgd', async () => expect((await evaluate(['--pgd', '0.08'])).pgd.map((a) => a.eps)).toEqual([0.08])],
  ['--pgd-l2', async () => expect((await evaluate(['--pgd-l2', '0.5'])).pgdL2?.map((a) => a.eps)).toEqual([0.5])],
  ['--square', async () => {
    expect(base.square).toBeUndefined();
    const r = await evaluate(['--square', '0.1', '--square-queries', '3']);
    expect(r.square?.map((a) => [a.eps, a.queries])).toEqual([[0.1, 3]]);
    expect(logs).toContainEqual(expect.stringMatching(/^Square \(black-box, ≤ 3 queries\): ε=0\.1 /));
    const withPgd = await evaluate(['--pgd', '0.08', '--square', 'default', '--square-queries', '2']);
    expect(withPgd.square?.map((a) => a.eps)).toEqual([0.08]);
    // With PGD at the same ε: the per-example worst case over both, in the report and on the console.
    expect(withPgd.worstCase?.map((w) => [w.eps, w.attacks])).toEqual([[0.08, ['pgd', 'square']]]);
    expect(logs).toContainEqual(`worst case per example (PGD, Square): ε=0.08 ${(100 * withPgd.worstCase![0]!.accuracy).toFixed(1)}%`);
  }],
  ['--square-queries', async () => {
    expect((await evaluate(['--square', '0.1', '--square-queries', '4'])).square![0]!.queries).toBe(4);
    expect((await evaluate(['--square', '0.1'])).square![0]!.queries).toBe(ROBUSTNESS_DEFAULTS.squareQueries);
  }],
  ['--square-p-init', async () => {
    expect((await evaluate(['--square', '0.1', '--square-queries', '2', '--square-p-init', '0.7'])).square![0]!.pInit).toBe(0.7);
    expect((await evaluate(['--square', '0.1', '--square-queries', '2'])).square![0]!.pInit).toBe(ROBUSTNESS_DEFAULTS.squarePInit);
  }],
  ['--pgd-steps', async () => expect((await evaluate(['--pgd', '0.1', '--pgd-steps', '3'])).pgd[0]!.steps).toBe(3)],
  ['--pgd-step-size', async () => {
    const r = await evaluate(['--pgd', '0.1', '--pgd-step-size', '0.02']);
    expect(r.pgd[0]!.stepSize).toBe(0.02);
    // The default is the schema's.
    expect((await evaluate(['--pgd', '0.1'])).pgd[0]!.stepSize).toBe(ROBUSTNESS_DEFAULTS.pgdStepSize);
  }],
  ['--attack-loss', async () => {
    expect((await evaluate(['--fgsm', '0.1'])).attackLosses).toEqual([...ROBUSTNESS_DEFAULTS.attackLosses]);
    expect((await evaluate(['--fgsm', '0.1', '--attack-loss', 'margin'])).attackLosses).toEqual(['margin']);
  }],
  ['--eps-units', async () => expect((await evaluate(['--fgsm', '0.1', '--eps-units', 'data-std'])).epsUnits).toBe('data-std')],
  ['--input-kind', async () => {
    expect(base.inputKind).toBe('image');
    expect((await evaluate(['--input-kind', 'tabular'])).inputKind).toBe('tabular');
  }],
  ['--seed', async () => {
    expect(base.seed).toBe(ROBUSTNESS_DEFAULTS.seed);
    expect((await evaluate(['--seed', '5'])).seed).toBe(5);
  }],
  ['--temperature', async () => {
    const r = await evaluate(['--temperature', '2']);
    expect(r.calibration).toEqual(expect.objectContaining({ temperature: 2, source: 'override' }));
  }],
  ['--no-calibration', async () => {
    expect((await evaluate(['--model', calibratedModelDir])).calibration?.temperature).toBe(1.7);
    expect((await evaluate(['--model', calibratedModelDir, '--no-calibration'])).calibration).toBeUndefined();
  }],
  ['--certify', async () => {
    expect(base.certification).toBeUndefined();
    expect((await evaluate(certify)).certification?.examples).toBe(4);
  }],
  ['--sigma', async () => expect((await evaluate([...certify, '--sigma', '0.3'])).certification?.sigma).toBe(0.3)],
  ['--n0', async () => expect((await evaluate([...certify, '--n0', '7'])).certification?.n0).toBe(7)],
  ['--n', async () => expect((await evaluate([...certify, '--n', '30'])).certification?.n).toBe(30)],
  ['--alpha', async () => expect((await evaluate([...certify, '--alpha', '0.01'])).certification?.alpha).toBe(0.01)],
  ['--radii', async () => expect((await evaluate([...certify, '--radii', '0.1,0.2'])).certification?.radii.map((r) => r.radius)).toEqual([0.1, 0.2])],
  ['--certify-examples', async () => expect((await evaluate([...certify, '--certify-examples', '3'])).certification?.examples).toBe(3)],
  ['--backend', async () => {
    try {
      await evaluate(['--backend', 'cpu']);
      expect(logs.some((l) => /^tfjs backend: cpu/.test(l))).toBe(true);
      expect(tf.getBackend()).toBe('cpu');
    } finally {
      await selectNodeBackend();
    }
  }],
];

describe('fedtune evaluate: every option has an effect', () => {
  it('has a row for every option of the command', () => {
    expect(rows.map(([flag]) => flag).sort()).toEqual(evaluateCommand().options.map((o) => o.long!).sort());
  });
  it.each(rows)('%s', async (_flag, check) => check(), 60_000);
});

describe('fedtune evaluate: numeric options refuse what their schema refuses, in one line naming the flag', () => {
  it.each([
    ['--pgd-step-size', 'abc'],
    ['--pgd-step-size', '-1'],
    ['--pgd-step-size', '0'],
    ['--pgd-step-size', '2'],
    ['--pgd-step-size', ''],
    ['--pgd-steps', '0'],
    ['--pgd-steps', '1001'],
    ['--pgd-steps', '2.5'],
    ['--examples', '0'],
    ['--adversarial-examples', '-1'],
    ['--seed', '-3'],
    ['--seed', '1e400'],
    ['--sigma', '0'],
    ['--n', '0'],
    ['--alpha', '1'],
    ['--certify-examples', '0'],
    ['--square-queries', '0'],
    ['--square-queries', '1.5'],
    ['--square-p-init', '0'],
    ['--square-p-init', '1.5'],
  ])('%s %j', async (flag, value) => {
    const errors: string[] = [];
    const command = evaluateCommand().exitOverride().configureOutput({ writeErr: (s) => void errors.push(s), writeOut: () => {} });
    await expect(command.parseAsync([...BASE(), flag, value], { from: 'user' })).rejects.toThrow();
    // commander's one line: the option, the value and the schema's reason; no evaluation ran.
    expect(errors.join('')).toMatch(new RegExp(`option '${flag} <[a-z0-9]+>' argument .* is invalid\\. ${flag.slice(2)}: `));
    expect(errors.join('').trim().split('\n')).toHaveLength(1);
  });

  it('PGD whose steps cannot travel its ε is flagged in the report and on the terminal; a step that can is not', async () => {
    const short = await evaluate(['--pgd', '0.1,0.3', '--pgd-steps', '10']);
    const flagged = short.warnings.filter((w) => /cannot reach its ε/.test(w));
    expect(flagged).toEqual([expect.stringMatching(/^PGD at ε=0\.3 cannot reach its ε: 10 steps × 0\.01 travel 0\.1 at most/)]);
    expect(logs.some((l) => l.includes(`warning: ${flagged[0]}`))).toBe(true);
    const enough = await evaluate(['--pgd', '0.1,0.3', '--pgd-steps', '10', '--pgd-step-size', '0.03']);
    expect(enough.warnings.filter((w) => /cannot reach/.test(w))).toEqual([]);
  }, 120_000);

  it('the bounds are the run config\'s (a run\'s robustness evaluation takes the same values)', async () => {
    const r = await evaluate(['--pgd', '0.1', '--pgd-steps', '1000', '--pgd-step-size', '1', '--adversarial-examples', '2']);
    expect(r.pgd[0]).toEqual(expect.objectContaining({ steps: 1000, stepSize: 1 }));
  }, 120_000);
});

describe('fedtune evaluate: an attack\'s flags without their attack, and CSV flags on built-in data, are refused in one line', () => {
  it.each([
    [['--square-queries', '5'], '--square-queries needs --square'],
    [['--square-p-init', '0.5', '--square-queries', '5'], '--square-queries and --square-p-init need --square'],
    [['--square', 'none', '--square-p-init', '0.5'], '--square-p-init needs --square'],
    [['--pgd-steps', '3'], '--pgd-steps needs --pgd or --pgd-l2'],
    [['--pgd-step-size', '0.02'], '--pgd-step-size needs --pgd (PGD-L2 steps 2.5·ε/--pgd-steps)'],
    [['--pgd-l2', '0.5', '--pgd-step-size', '0.02'], '--pgd-step-size needs --pgd (PGD-L2 steps 2.5·ε/--pgd-steps)'],
    [['--adversarial-examples', '7'], '--adversarial-examples needs an attack: --fgsm, --pgd, --pgd-l2 or --square (every attack is none)'],
    [['--attack-loss', 'margin', '--eps-units', 'data-std'], '--attack-loss and --eps-units need an attack: --fgsm, --pgd, --pgd-l2 or --square (every attack is none)'],
    [['--data', 'digits-holdout', '--label-column', 'digit'], '--label-column reads a CSV: it has no effect on --data digits-holdout, a built-in held-out set'],
    [['--data', 'digits-holdout-clean', '--feature-columns', 'p1,p2'], '--feature-columns reads a CSV: it has no effect on --data digits-holdout-clean, a built-in held-out set'],
    [['--data', 'digits-holdout-scanned', '--impute', 'median'], '--impute reads a CSV: it has no effect on --data digits-holdout-scanned, a built-in held-out set'],
  ])('%j', async (extra, message) => {
    // Before any work: the BASE runs no attack.
    await expect(evaluateCommand().exitOverride().parseAsync([...BASE(), ...extra], { from: 'user' })).rejects.toMatchObject({ code: 'config', message });
  });

  it('the same flags with their attack on (or their default values) run', async () => {
    expect((await evaluate(['--pgd-l2', '0.5', '--pgd-steps', '3'])).pgdL2?.[0]?.steps).toBe(3);
    expect((await evaluate(['--fgsm', '0.1', '--adversarial-examples', '5'])).adversarialExamples).toBe(5);
    expect((await evaluate(['--adversarial-examples', '0'])).adversarialExamples).toBe(0);
  }, 60_000);
});
