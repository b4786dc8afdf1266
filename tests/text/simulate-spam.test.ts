import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunReport, textCorruptionNames, vocabularyHashOf } from '@fedtune/shared';
import { pretrainedSpamModelDir, readModelText } from '@fedtune/coordinator';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';

describe('fedtune simulate --task spam', () => {
  it('the CLI runs a tiny spam federation over socket.io; the report has the text robustness of the final model', async () => {
    const out = tempDir();
    const { done } = fedtune(['simulate', '--task', 'spam', '--sites', '2', '--rounds', '1', '--epochs', '1', '--partition', 'collection', '--federated-eval', 'never', '--out', out, '--run-id', 'spam-cli']);
    const exit = await done;
    expect(exit.stderr).not.toMatch(/Error|at .*\.ts:\d+/);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('task spam, partition collection');
    expect(exit.stdout).toMatch(/text robustness on 300 holdout e-mails: clean \d+\.\d%/);
    const report = RunReport.parse(JSON.parse(readFileSync(join(out, 'spam-cli', 'report.json'), 'utf8')));
    expect(report.status).toBe('complete');
    expect(report.model.architecture).toBe('text-cnn');
    expect(report.simulation).toMatchObject({ task: 'spam', partition: 'collection', sites: 2, featureShift: false });
    // Collection partition, 2 sites: site-1 holds easy-ham-1, hard-ham-1 and spam-2; site-2 easy-ham-2 and spam-1.
    expect(Object.keys((report.simulation!.collections as Record<string, object>)['site-1']!).sort()).toEqual(['easy-ham-1', 'hard-ham-1', 'spam-2']);
    expect(Object.keys((report.simulation!.collections as Record<string, object>)['site-2']!).sort()).toEqual(['easy-ham-2', 'spam-1']);
    const text = report.textRobustness!;
    expect(text.examples).toBe(300);
    expect(text.corruptions.map((c) => c.name)).toEqual(textCorruptionNames());
    // The tokenizer lowercases: casing changes nothing, at any severity.
    for (const s of text.corruptions.find((c) => c.name === 'casing')!.severities) expect(s.accuracy).toBe(text.clean.accuracy);
    // The greedy word-substitution attack at 1, 2 and 4 words: accuracy never rises with the budget, and even one
    // word costs something on a bag-of-n-grams model (it is below the clean accuracy at 4 words).
    const budgets = text.substitution!.budgets;
    expect(budgets.map((b) => b.budget)).toEqual([1, 2, 4]);
    for (let q = 1; q < budgets.length; q++) expect(budgets[q]!.accuracy).toBeLessThanOrEqual(budgets[q - 1]!.accuracy);
    expect(budgets[0]!.accuracy).toBeLessThanOrEqual(text.clean.accuracy);
    expect(budgets[2]!.accuracy).toBeLessThan(text.clean.accuracy);
    expect(exit.stdout).toMatch(/word substitution/);
    // The pretrained model on the coordinator's holdout (600 e-mails of the target collections).
    expect(report.pretrained!.accuracy).toBeCloseTo(0.698, 3);
    // A saved round is a text model directory again: its vocab.json is the run's vocabulary (before 2026-12-07 it was
    // missing, and a run given that directory as --model aborted: "the run's model comes without a vocabulary").
    const roundDir = join(out, 'spam-cli', report.rounds[0]!.modelDir!);
    expect(readModelText(roundDir)).toEqual(readModelText(pretrainedSpamModelDir()));
  }, 240_000);

  it('20 sites over real socket.io: every site trains its share, the final model has its text robustness', async () => {
    const sites: string[] = [];
    const pinned = new Map<string, string | undefined>();
    const failures: string[] = [];
    const result = await runSimulation({
      task: 'spam',
      sites: 20,
      rounds: 1,
      epochs: 1,
      out: tempDir(),
      transport: 'socket',
      federatedEvaluation: 'never',
      workers: 1,
      textRobustness: { examples: 50, corruptions: ['char-drop', 'word-dropout'], severities: [0.1, 0.5] },
      onPlan: (plan) => sites.push(...Object.keys(plan.labelCounts)),
      onSiteEvent: (siteId, e) => {
        if (e.type === 'terms') pinned.set(siteId, e.terms.terms.model.vocabularyHash);
        if (e.type === 'failed') failures.push(e.reason);
      },
    });
    expect(sites).toHaveLength(20);
    // The sites verify the run's vocabulary as real sites do: the terms pin the committed vocabulary's hash,
    // and each site (token ids made with it) checked the model brings it before training.
    expect(failures).toEqual([]);
    expect(new Set(pinned.values())).toEqual(new Set([vocabularyHashOf(readModelText(pretrainedSpamModelDir())!)]));
    expect(pinned.size).toBe(20);
    const { report } = result;
    expect(report.status).toBe('complete');
    expect(report.rounds[0]!.accepted.map((a) => a.siteId).sort()).toEqual([...sites].sort());
    // Dirichlet(0.5) by default; each site holds at most 120 e-mails.
    expect(report.simulation!.partition).toBe('dirichlet:0.5');
    for (const counts of Object.values(report.simulation!.labelCounts as Record<string, number[]>)) expect(counts[0]! + counts[1]!).toBeLessThanOrEqual(120);
    expect(report.textRobustness).toMatchObject({ examples: 50 });
    expect(report.textRobustness!.corruptions.map((c) => [c.name, c.severities.map((s) => s.severity)])).toEqual([
      ['char-drop', [0.1, 0.5]],
      ['word-dropout', [0.1, 0.5]],
    ]);
  }, 240_000);
});
