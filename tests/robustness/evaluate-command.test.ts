import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { pretrainedModelDir } from '@fedtune/coordinator';
import { RobustnessReportSchema, subset } from '@fedtune/shared';
import { builtinDigits, writeCsvDataset } from '@fedtune/shared/node';
import { evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';

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
});
