import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { pretrainedModelDir, readSavedHoldout } from '@fedtune/coordinator';
import { RobustnessReportSchema } from '@fedtune/shared';
import { builtinHoldoutFor, evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * A saved model says which built-in held-out set its run evaluated it on and the task's headline ε (model.json
 * metadata), and `fedtune evaluate --data digits-holdout` takes the same. Before, evaluate always took the scanned
 * holdout and ε 0.06: a `--no-feature-shift` model (88 % clean on its own digits, 39 % PGD at 0.1 in its report)
 * was evaluated at 67 % clean and 0 % PGD on data it never saw, against the wrong headline ε.
 */

async function savedModel(featureShift: boolean): Promise<{ dir: string; metadata: Record<string, unknown> }> {
  const out = tempDir('fedtune-saved-holdout-');
  const result = await runSimulation({ sites: 2, rounds: 1, out, transport: 'memory', maxExamples: 40, seed: 5, featureShift, robustness: { when: 'never' }, federatedEvaluation: 'never' });
  expect(result.report.status, result.report.aborted).toBe('complete');
  const dir = join(result.runDir, result.report.rounds[0].modelDir!);
  return { dir, metadata: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata };
}

async function evaluate(model: string, data: string): Promise<{ report: ReturnType<typeof RobustnessReportSchema.parse>; lines: string[] }> {
  const out = join(mkdtempSync(join(tmpdir(), 'fedtune-eval-saved-')), 'report.json');
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(String(line)));
  try {
    await evaluateCommand().parseAsync(['--model', model, '--data', data, '--out', out, '--examples', '60', '--adversarial-examples', '10', '--noise', 'none', '--corruptions', 'none', '--fgsm', 'none', '--pgd', '0.2', '--pgd-steps', '2', '--pgd-step-size', '0.1'], { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return { report: RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8'))), lines };
}

describe('the built-in holdout a saved model was evaluated on', () => {
  let clean: { dir: string; metadata: Record<string, unknown> };
  let scanned: { dir: string; metadata: Record<string, unknown> };
  beforeAll(async () => {
    clean = await savedModel(false);
    scanned = await savedModel(true);
  }, 120_000);

  it('a run records its holdout and headline ε in every saved model', () => {
    expect(clean.metadata).toMatchObject({ holdout: 'digits-holdout-clean', headlineEps: 0.1, architecture: 'mlp' });
    expect(scanned.metadata).toMatchObject({ holdout: 'digits-holdout-scanned', headlineEps: 0.06, architecture: 'mlp' });
    expect(readSavedHoldout(clean.dir)).toBe('digits-holdout-clean');
    expect(readSavedHoldout(scanned.dir)).toBe('digits-holdout-scanned');
  });

  it('--data digits-holdout takes the clean digits and ε 0.1 for a --no-feature-shift model, as --data digits-holdout-clean does, and says so', async () => {
    const auto = await evaluate(clean.dir, 'digits-holdout');
    const explicit = await evaluate(clean.dir, 'digits-holdout-clean');
    const other = await evaluate(clean.dir, 'digits-holdout-scanned');
    expect(auto.report.headlineEps).toBe(0.1);
    expect(auto.report.pgd.map((r) => r.eps)).toEqual([0.1, 0.2]);
    expect(other.report.pgd.map((r) => r.eps)).toEqual([0.06, 0.2]);
    expect(auto.report.clean).toEqual(explicit.report.clean);
    expect(other.report.headlineEps).toBe(0.06);
    expect(other.report.clean.accuracy).not.toBe(auto.report.clean.accuracy);
    expect(auto.lines[1]).toMatch(/^data: the clean \(unshifted\) held-out digits, as the run that saved this model evaluated it/);
    expect(explicit.lines.some((l) => l.startsWith('data: '))).toBe(false);
  });

  it('a scanned model, and a pretrained checkpoint (no metadata), keep the scanned digits and ε 0.06', async () => {
    for (const dir of [scanned.dir, pretrainedModelDir('mlp')]) {
      const auto = await evaluate(dir, 'digits-holdout');
      const explicit = await evaluate(dir, 'digits-holdout-scanned');
      expect(auto.report.headlineEps).toBe(0.06);
      expect(auto.report.clean).toEqual(explicit.report.clean);
    }
  });
});

describe('builtinHoldoutFor and readSavedHoldout', () => {
  it.each([
    ['digits-holdout', undefined, 'digits-holdout-scanned'],
    ['digits-holdout', 'digits-holdout-clean', 'digits-holdout-clean'],
    ['digits-holdout', 'digits-holdout-scanned', 'digits-holdout-scanned'],
    ['digits-holdout-clean', 'digits-holdout-scanned', 'digits-holdout-clean'],
    ['digits-holdout-scanned', 'digits-holdout-clean', 'digits-holdout-scanned'],
    ['data/holdout.csv', 'digits-holdout-clean', undefined],
    ['toString', undefined, undefined],
  ] as const)('--data %s with a model saved on %s → %s', (spec, saved, want) => {
    expect(builtinHoldoutFor(spec, saved)).toBe(want);
  });

  it.each([
    ['an unknown name', { holdout: 'imagenet' }],
    ['a number', { holdout: 3 }],
    ['an inherited name', { holdout: '__proto__' }],
    ['no metadata', undefined],
  ])('%s in model.json reads as none', (_, metadata) => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-saved-holdout-json-'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, ...(metadata ? { userDefinedMetadata: metadata } : {}) }));
    expect(readSavedHoldout(dir)).toBeUndefined();
  });

  it('a model.json that is not JSON, or none, reads as none (the model loader refuses it with its own line)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-saved-holdout-json-'));
    expect(readSavedHoldout(dir)).toBeUndefined();
    writeFileSync(join(dir, 'model.json'), '{not json');
    expect(readSavedHoldout(dir)).toBeUndefined();
  });
});
