import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { evaluateRobustness, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { renderReportHtml, type ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';
import { printRobustness } from '../../cli/src/ui/robustness-summary.ts';

let plain: RobustnessReport;
let calibrated: RobustnessReport;

beforeAll(async () => {
  await selectNodeBackend();
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  const quick = { examples: 60, adversarialExamples: 0, noise: false, corruptions: false, fgsm: false, pgd: false } as const;
  plain = await evaluateRobustness(model, builtinDigits().holdout, quick);
  calibrated = await evaluateRobustness(model, builtinDigits().holdout, {
    ...quick,
    calibration: { temperature: 1.7, source: 'federated', fittedOn: 321 },
    certify: { examples: 3, n0: 10, n: 30, radii: [0, 0.1, 0.2] },
  });
  model.dispose();
});

const report = (finalRobustness: RobustnessReport): ReportWithRobustness => ({
  schemaVersion: 1,
  runId: 'calib',
  status: 'complete',
  startedAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:01:00Z',
  config: {},
  backend: 'wasm',
  model: { architecture: 'mlp', parameters: 1 },
  rounds: [],
  finalRobustness,
});

describe('calibration and certification in report.html and the CLI summary', () => {
  it('report.html shows the reliability diagram before and after, the calibration table and the certified-accuracy chart', () => {
    const html = renderReportHtml(report(calibrated));
    expect(html).toContain('■ after temperature scaling');
    expect(html).toContain('Calibration (temperature scaling)');
    expect(html).toContain('1.700');
    expect(html).toContain('321 examples');
    expect(html).toContain(`${calibrated.calibration!.eceBefore.toFixed(3)} → ${calibrated.calibration!.eceAfter.toFixed(3)}`);
    expect(html).toContain('aria-label="certified accuracy against L2 radius"');
    expect(html).toContain('σ = 0.25, n0 = 10, n = 30');
    expect(html).toContain('α = 0.001');
    expect(html).not.toMatch(/<script|<link|src=|href=|https?:/i);
  });

  it('without them: one reliability diagram, no calibration table, no certified chart', () => {
    const html = renderReportHtml(report(plain));
    expect(html).toContain('aria-label="reliability diagram"');
    expect(html).not.toContain('after temperature scaling');
    expect(html).not.toContain('Calibration (temperature scaling)');
    expect(html).not.toContain('certified accuracy');
  });

  it('the CLI summary prints the temperature, ECE before → after and the certified accuracy', () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      printRobustness(calibrated, '');
      printRobustness(plain, '');
    } finally {
      log.mockRestore();
    }
    const text = lines.join('\n');
    expect(text).toContain('calibration: T=1.700 (federated)');
    expect(text).toMatch(/certified \(σ=0.25, n=30, α=0.001\): r=0 \d/);
    expect(lines.filter((l) => l.includes('calibration:'))).toHaveLength(1);
  });
});
