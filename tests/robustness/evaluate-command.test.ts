import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { pretrainedModelDir } from '@fedtune/coordinator';
import { RobustnessReportSchema, subset } from '@fedtune/shared';
import { builtinDigits, writeCsvDataset } from '@fedtune/shared/node';
import { evaluateCommand, evaluationData } from '../../cli/src/commands/evaluate-command.ts';

describe('fedtune evaluate', () => {
  it('evaluates a saved model on a CSV and writes the report JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-eval-'));
    const csv = join(dir, 'data.csv');
    await writeCsvDataset(csv, subset(builtinDigits().holdout, Array.from({ length: 80 }, (_, i) => i)));
    const out = join(dir, 'report.json');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await evaluateCommand().parseAsync(
        ['--model', pretrainedModelDir('mlp'), '--data', csv, '--out', out, '--examples', '80', '--adversarial-examples', '40', '--corruptions', 'rotate,fog', '--fgsm', '0.05,0.1', '--pgd', '0.1', '--pgd-steps', '5', '--noise', '0.2'],
        { from: 'user' },
      );
    } finally {
      log.mockRestore();
    }
    const report = RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(report.examples).toBe(80);
    expect(report.inputKind).toBe('image');
    expect(report.corruptions.map((c) => c.name)).toEqual(['rotate', 'fog']);
    expect(report.fgsm.map((r) => r.eps)).toEqual([0.05, 0.1]);
    expect(report.pgd).toEqual([expect.objectContaining({ eps: 0.1, steps: 5, stepSize: 0.01 })]);
    expect(report.noise.map((r) => r.sigma)).toEqual([0.2]);
  });

  it('--impute fills a CSV\'s missing values (refused without it, naming the flag)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-eval-'));
    const data = subset(builtinDigits().holdout, Array.from({ length: 12 }, (_, i) => i));
    const pixels = Array.from({ length: 784 }, (_, i) => `p${i}`);
    // Pixel 300 of the first digit is missing; zero-filled, the file is the digits with that pixel black.
    const rows = Array.from({ length: 12 }, (_, r) => [data.y[r], ...Array.from(data.x.subarray(r * 784, (r + 1) * 784), (v, i) => (r === 0 && i === 300 ? '' : v))].join(','));
    const csv = join(dir, 'missing.csv');
    writeFileSync(csv, `label,${pixels.join(',')}\n${rows.join('\n')}\n`);
    const out = join(dir, 'report.json');
    const args = ['--model', pretrainedModelDir('mlp'), '--data', csv, '--out', out, '--examples', '12', '--adversarial-examples', '0', '--corruptions', 'none', '--noise', 'none', '--fgsm', 'none', '--pgd', 'none'];
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await expect(evaluateCommand().exitOverride().parseAsync(args, { from: 'user' })).rejects.toThrow(/missing values in "p300" \(1\): fill them \(--impute/);
      await evaluateCommand().parseAsync([...args, '--impute', 'zero'], { from: 'user' });
    } finally {
      log.mockRestore();
    }
    const zeroFilled = RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(zeroFilled.examples).toBe(12);
    expect(evaluationData(csv, 'label', undefined, 'zero').x[300]).toBe(0);
    expect(evaluationData(csv, 'label', undefined, 'mean').x[300]).toBeCloseTo(Array.from({ length: 11 }, (_, r) => data.x[(r + 1) * 784 + 300]).reduce((a, b) => a + b) / 11, 6);
  });

  it('--feature-columns picks the model\'s features out of a CSV with other columns (quoted text included)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-eval-'));
    const data = subset(builtinDigits().holdout, Array.from({ length: 20 }, (_, i) => i));
    const pixels = Array.from({ length: 784 }, (_, i) => `p${i}`);
    const rows = Array.from({ length: 20 }, (_, r) => [`"scan ${r}, ward B"`, data.y[r], ...Array.from(data.x.subarray(r * 784, (r + 1) * 784))].join(','));
    const csv = join(dir, 'with-notes.csv');
    writeFileSync(csv, `note,label,${pixels.join(',')}\n${rows.join('\n')}\n`);
    const out = join(dir, 'report.json');
    const args = ['--model', pretrainedModelDir('mlp'), '--data', csv, '--out', out, '--examples', '20', '--adversarial-examples', '0', '--corruptions', 'none', '--noise', 'none', '--fgsm', 'none', '--pgd', 'none'];
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await expect(evaluateCommand().exitOverride().parseAsync(args, { from: 'user' })).rejects.toThrow(/column "note" is not numeric/);
      await evaluateCommand().parseAsync([...args, '--feature-columns', pixels.join(',')], { from: 'user' });
    } finally {
      log.mockRestore();
    }
    const report = RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(report.examples).toBe(20);
  });
});
