import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModelDir, pretrainedModelDir, readSavedCalibration } from '@fedtune/coordinator';
import { fitTemperature, modelLogits, RobustnessReportSchema, subset, type Dataset, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend, writeCsvDataset } from '@fedtune/shared/node';
import { evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';
import { saveModelDir } from '../helpers/save-model-dir.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedtune-calib-'));
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
let fitData: Dataset;
const evalCsv = join(dir, 'eval.csv');
const QUICK = ['--noise', 'none', '--corruptions', 'none', '--fgsm', 'none', '--pgd', 'none', '--adversarial-examples', '0', '--examples', '300'];

/** The pretrained MLP with its logits multiplied by `scale` (last layer's kernel and bias): over-confident above 1, under-confident below. */
async function scaledModel(scale: number): Promise<tf.LayersModel> {
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  const last = model.layers[model.layers.length - 1];
  last.setWeights(last.getWeights().map((w) => tf.tidy(() => w.mul(scale))));
  return model;
}

/** Saves `model` as model.json + weights.bin with `metadata` as its userDefinedMetadata; returns the directory. */
function save(model: tf.LayersModel, name: string, metadata?: Record<string, unknown>): Promise<string> {
  return saveModelDir(model, join(dir, name), metadata);
}

async function evaluate(args: string[]): Promise<RobustnessReport> {
  const out = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await evaluateCommand().parseAsync([...args, '--data', evalCsv, '--out', out, ...QUICK], { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
}

/** A model scaled by `scale`, saved with the temperature fitted on the fit split. */
async function calibratedModelDir(scale: number): Promise<{ dir: string; temperature: number; rawLogits: Float32Array }> {
  const model = await scaledModel(scale);
  try {
    const temperature = fitTemperature(modelLogits(model, fitData), fitData.y);
    const out = await save(model, `scaled-${scale}`, { round: 3, calibration: { temperature, source: 'holdout', fittedOn: fitData.y.length } });
    return { dir: out, temperature, rawLogits: modelLogits(model, subset(fitData, range(0, 20))) };
  } finally {
    model.dispose();
  }
}

beforeAll(async () => {
  await selectNodeBackend();
  const holdout = builtinDigits().holdout;
  // Fit the temperature on one half of the holdout, evaluate on the other.
  fitData = subset(holdout, range(0, 600));
  await writeCsvDataset(evalCsv, subset(holdout, range(600, 900)));
});

describe('the temperature saved in model.json', () => {
  it('round-trips: readSavedCalibration returns it, and the model loads with its raw logits unchanged', async () => {
    const { dir: modelDir, temperature, rawLogits } = await calibratedModelDir(3);
    expect(readSavedCalibration(modelDir)).toEqual({ temperature, source: 'holdout', fittedOn: 600 });
    const loaded = await loadModelDir(modelDir);
    try {
      expect(Array.from(modelLogits(loaded, subset(fitData, range(0, 20))))).toEqual(Array.from(rawLogits));
    } finally {
      loaded.dispose();
    }
    // A model saved without one has none.
    expect(readSavedCalibration(pretrainedModelDir('mlp'))).toBeUndefined();
  });

  it.each([
    ['a negative temperature', { temperature: -1, source: 'holdout', fittedOn: 1 }],
    ['a temperature above the range', { temperature: 1e6, source: 'holdout', fittedOn: 1 }],
    ['an unknown source', { temperature: 2, source: 'magic', fittedOn: 1 }],
    ['a string', 'hot'],
  ])('a saved calibration with %s is refused with a config error', async (name, calibration) => {
    const model = await scaledModel(1);
    const out = await save(model, `bad-${name.replace(/\W/g, '')}`, { calibration });
    model.dispose();
    expect(() => readSavedCalibration(out)).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('calibration') }));
    await expect(evaluate(['--model', out])).rejects.toMatchObject({ code: 'config' });
  });
});

describe('fedtune evaluate applies the saved temperature', () => {
  it.each([
    ['over-confident (logits × 3)', 3],
    ['under-confident (logits × 0.3)', 0.3],
  ])('%s: reports the temperature, and ECE and NLL after < before on held-out data', async (_, scale) => {
    const { dir: modelDir, temperature } = await calibratedModelDir(scale);
    const r = await evaluate(['--model', modelDir]);
    const c = r.calibration!;
    expect(c.temperature).toBe(temperature);
    expect(c.source).toBe('holdout');
    expect(c.fittedOn).toBe(600);
    // The fitted T undoes the scale roughly: T > 1 for over-, < 1 for under-confidence.
    expect(scale > 1 ? temperature > 1.5 : temperature < 0.7).toBe(true);
    expect(c.eceAfter).toBeLessThan(c.eceBefore);
    expect(c.nllAfter).toBeLessThan(c.nllBefore);
    expect(c.reliabilityAfter.reduce((n, b) => n + b.count, 0)).toBe(300);
    // Before = the raw model's clean ECE on the same examples.
    expect(c.eceBefore).toBeCloseTo(r.clean.ece, 6);
  });

  it('--temperature overrides the saved one, --no-calibration drops it, together they are refused', async () => {
    const { dir: modelDir } = await calibratedModelDir(3);
    const override = await evaluate(['--model', modelDir, '--temperature', '1.5']);
    expect(override.calibration).toMatchObject({ temperature: 1.5, source: 'override', fittedOn: 0 });
    const none = await evaluate(['--model', modelDir, '--no-calibration']);
    expect(none.calibration).toBeUndefined();
    await expect(evaluate(['--model', modelDir, '--temperature', '2', '--no-calibration'])).rejects.toMatchObject({ code: 'config' });
    // A model with no saved temperature: no calibration part, unless one is given.
    expect((await evaluate(['--model', pretrainedModelDir('mlp')])).calibration).toBeUndefined();
    expect((await evaluate(['--model', pretrainedModelDir('mlp'), '--temperature', '0.8'])).calibration?.temperature).toBe(0.8);
  });
});

describe('fedtune evaluate --certify', () => {
  it('certifies with the schema defaults, and each setting flag changes its field', async () => {
    const base = ['--model', pretrainedModelDir('mlp'), '--certify', '--n0', '10', '--n', '40', '--certify-examples', '3'];
    const r = await evaluate(base);
    expect(r.certification).toMatchObject({ sigma: 0.25, alpha: 0.001, n0: 10, n: 40, examples: 3 });
    expect(r.certification!.radii.map((x) => x.radius)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const rows: Array<[string[], (c: NonNullable<RobustnessReport['certification']>) => unknown, unknown]> = [
      [['--sigma', '0.5'], (c) => c.sigma, 0.5],
      [['--alpha', '0.01'], (c) => c.alpha, 0.01],
      [['--radii', '0,0.3'], (c) => c.radii.map((x) => x.radius), [0, 0.3]],
      [['--n0', '12'], (c) => c.n0, 12],
      [['--n', '30'], (c) => c.n, 30],
      [['--certify-examples', '2'], (c) => c.examples, 2],
    ];
    for (const [args, read, want] of rows) expect(read((await evaluate([...base, ...args])).certification!)).toEqual(want);
    expect((await evaluate(['--model', pretrainedModelDir('mlp')])).certification).toBeUndefined();
  });

  it('refuses smoothing settings without --certify', async () => {
    await expect(evaluate(['--model', pretrainedModelDir('mlp'), '--sigma', '0.5'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--certify') });
  });
});
