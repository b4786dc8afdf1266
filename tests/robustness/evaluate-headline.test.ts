import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { pretrainedModelDir } from '@fedtune/coordinator';
import { RobustnessReportSchema } from '@fedtune/shared';
import { evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';

async function evaluate(argv: string[]): Promise<{ report: ReturnType<typeof RobustnessReportSchema.parse>; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'fedtune-eval-headline-'));
  const out = join(dir, 'report.json');
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(String(line)));
  try {
    const base = ['--model', pretrainedModelDir('mlp'), '--data', 'digits-holdout', '--out', out, '--examples', '40', '--adversarial-examples', '20', '--noise', 'none', '--corruptions', 'none', '--pgd-steps', '3'];
    await evaluateCommand().parseAsync([...base, ...argv], { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return { report: RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8'))), lines };
}

describe('fedtune evaluate: the headline ε, ε units and PGD-L2', () => {
  it('on the built-in task the headline ε is always attacked and printed first, in absolute units', async () => {
    const { report, lines } = await evaluate(['--fgsm', '0.1', '--pgd', '0.1']);
    expect(report.headlineEps).toBe(0.06);
    expect(report.pgd.map((r) => r.eps)).toEqual([0.06, 0.1]);
    expect(report.fgsm.map((r) => r.eps)).toEqual([0.06, 0.1]);
    expect(lines).toContain('ε in absolute input units; 20 examples attacked; each attack the worst case over the ce and margin losses');
    const headline = lines.findIndex((l) => l.startsWith('headline: PGD-3 at the task\'s headline ε=0.06: '));
    expect(headline).toBeGreaterThan(-1);
    expect(headline).toBeLessThan(lines.findIndex((l) => l.startsWith('FGSM: ')));
  });

  it('--eps-units data-std: rows report ε in both units, the summary says which', async () => {
    const { report, lines } = await evaluate(['--fgsm', 'none', '--pgd', '0.5', '--eps-units', 'data-std']);
    expect(report.epsUnits).toBe('data-std');
    expect(report.epsScale).toBeGreaterThan(0.15);
    const half = report.pgd.find((r) => r.eps === 0.5)!;
    expect(half.epsAbsolute).toBeCloseTo(0.5 * report.epsScale!, 9);
    // The headline ε (0.06 absolute) is attacked in these units too.
    expect(report.headlineEps).toBeCloseTo(0.06 / report.epsScale!, 9);
    expect(report.pgd.find((r) => r.eps === report.headlineEps)!.epsAbsolute).toBeCloseTo(0.06, 9);
    expect(lines.some((l) => l.startsWith("ε in units of the data's standard deviation (1 = "))).toBe(true);
    // The default step is 0.01 absolute (0.01 / the data's std in its units): said in both.
    expect(lines.some((l) => /PGD \(3×0\.0\d+ = 0\.01 absolute\): .*ε=0\.5 \(0\.\d+ absolute\)/.test(l))).toBe(true);
  });

  it('--pgd-l2 adds L2 rows (none by default)', async () => {
    const { report, lines } = await evaluate(['--fgsm', 'none', '--pgd', 'none', '--pgd-l2', '1,2']);
    expect(report.pgdL2?.map((r) => r.eps)).toEqual([1, 2]);
    expect(lines.some((l) => l.startsWith('PGD-L2 (3 steps of 2.5·ε/3): ε=1 '))).toBe(true);
    expect((await evaluate(['--fgsm', 'none', '--pgd', '0.1'])).report.pgdL2).toBeUndefined();
  });
});
