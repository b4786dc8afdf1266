import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { robustPreset, type RunReport } from '@fedtune/shared';
import { simulateCommand } from '../../cli/src/commands/simulate-command.ts';
import { simulationRunConfig, type SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';

const dir = tempDir();

/** `fedtune simulate ARGV` with runSimulation recorded instead of run. */
async function simulateRecorded(argv: string[]): Promise<SimulationOptions[]> {
  const calls: SimulationOptions[] = [];
  const command = simulateCommand({
    runSimulation: async (o) => {
      calls.push(o);
      const report = { runId: 'recorded', status: 'complete', rounds: [], final: { accuracy: 0.5 } } as unknown as RunReport;
      return { report, reportPath: join(dir, 'recorded', 'report.json'), runDir: join(dir, 'recorded'), backend: 'cpu', sites: [] };
    },
  });
  command.exitOverride();
  await command.parseAsync(['--out', join(dir, 'sim'), ...argv], { from: 'user' });
  return calls;
}

describe('simulationRunConfig: training settings given in trainExtras (a preset, a bench) are not erased by unset options', () => {
  it.each<[string, Partial<SimulationOptions>, Record<string, unknown>]>([
    ['epochs', { trainExtras: { epochs: 3 } }, { epochs: 3 }],
    ['learningRate', { trainExtras: { learningRate: 0.004 } }, { learningRate: 0.004 }],
    ['batchSize', { trainExtras: { batchSize: 96 } }, { batchSize: 96 }],
    ['optimizer', { trainExtras: { optimizer: 'sgd' } }, { optimizer: 'sgd' }],
    ['maxExamples', { trainExtras: { maxExamples: 123 } }, { maxExamples: 123 }],
    ['an explicit option overrides trainExtras', { trainExtras: { epochs: 3, learningRate: 0.004 }, epochs: 2 }, { epochs: 2, learningRate: 0.004 }],
    ['nothing given: the schema defaults', {}, { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' }],
  ])('%s', (_, options, expected) => {
    const config = simulationRunConfig({ sites: 2, out: dir, transport: 'memory', ...options } as SimulationOptions);
    expect(config.train).toMatchObject(expected);
  });
});

describe('--preset robust: its defaults reach both arms, and flags override them', () => {
  it('defaults: cnn-wide, 240 rounds of at most 250 examples per site on the scanners (cnn-dense, 30 of at most 500 on clean digits), Adam lr 0.003 in both arms, PGD-7 on every example at 5/3 × the headline ε (0.10) warmed up over a third of the rounds in the robust arm only', async () => {
    const calls = await simulateRecorded(['--preset', 'robust']);
    const [plain, robust] = calls.map((c) => simulationRunConfig(c));
    expect(calls.map((c) => c.architecture)).toEqual(['cnn-wide', 'cnn-wide']);
    expect([plain.rounds, robust.rounds]).toEqual([240, 240]);
    expect([plain.train.maxExamples, robust.train.maxExamples]).toEqual([250, 250]);
    // Both arms end with the mean of their last quarter of rounds' models.
    expect([plain.averageRounds, robust.averageRounds]).toEqual([60, 60]);
    expect([plain.train.learningRate, robust.train.learningRate]).toEqual([0.003, 0.003]);
    expect([plain.train.optimizer, robust.train.optimizer, plain.train.epochs, robust.train.epochs]).toEqual(['adam', 'adam', 1, 1]);
    expect(plain.train.adversarial).toBeUndefined();
    expect([plain.train.learningRateSchedule, robust.train.learningRateSchedule]).toEqual([undefined, undefined]);
    expect(robust.train.adversarial).toEqual({ method: 'pgd', share: 1, eps: 0.1, steps: 7, warmupRounds: 80 });
    // Both arms' final evaluation runs the black-box Square Attack at the headline ε (the gradient-masking check).
    expect([plain.robustness.square, robust.robustness.square]).toEqual([[0.06], [0.06]]);
    expect(robustPreset()).toMatchObject({ architecture: 'cnn-wide', rounds: 240, maxExamples: 250, averageRounds: 60, plain: { learningRate: 0.003 } });
    // On clean digits: the cnn-dense at the headline ε 0.1, no warm-up, 30 rounds.
    expect(robustPreset(false)).toEqual({ architecture: 'cnn-dense', rounds: 30, maxExamples: 500, averageRounds: 8, plain: { learningRate: 0.003 }, adversarial: { learningRate: 0.003, adversarial: { method: 'pgd', share: 1, eps: 0.1, steps: 7 } } });
    // The warm-up is a third of the run's length.
    expect([30, 120, 200, 1, 2].map((r) => robustPreset(true, r).adversarial.adversarial!.warmupRounds)).toEqual([10, 40, 67, 1, 1]);
    // Without the preset, the run config's default learning rate and every example in every round.
    const unpreset = simulationRunConfig((await simulateRecorded(['--robustness', 'never']))[0]).train;
    expect([unpreset.learningRate, unpreset.maxExamples]).toEqual([0.001, undefined]);
    expect(simulationRunConfig((await simulateRecorded(['--robustness', 'never']))[0]).averageRounds).toBe(1);
  });

  it.each<[string, string[], (plain: ReturnType<typeof simulationRunConfig>, robust: ReturnType<typeof simulationRunConfig>, calls: SimulationOptions[]) => void]>([
    ['--lr (both arms)', ['--lr', '0.002'], (p, r) => expect([p.train.learningRate, r.train.learningRate]).toEqual([0.002, 0.002])],
    ['--arch (both arms)', ['--arch', 'cnn'], (_p, _r, calls) => expect(calls.map((c) => c.architecture)).toEqual(['cnn', 'cnn'])],
    ['--epochs (both arms)', ['--epochs', '2'], (p, r) => expect([p.train.epochs, r.train.epochs]).toEqual([2, 2])],
    ['--adv-steps (the robust arm only)', ['--adv-steps', '10'], (p, r) => expect([p.train.adversarial, r.train.adversarial?.steps, r.train.learningRate]).toEqual([undefined, 10, 0.003])],
    ['--lr-schedule (both arms; the preset has none)', ['--lr-schedule', 'cosine:0.2'], (p, r) => expect([p.train.learningRateSchedule, r.train.learningRateSchedule, r.train.adversarial?.eps]).toEqual([{ kind: 'cosine', finalFactor: 0.2 }, { kind: 'cosine', finalFactor: 0.2 }, 0.1])],
    ['--no-feature-shift: the cnn-dense, ε 0.1 without a warm-up, the same learning rate, 30 rounds of at most 500 examples per site', ['--no-feature-shift'], (p, r, calls) => expect([calls[1].architecture, r.train.adversarial?.eps, r.train.adversarial?.warmupRounds, p.train.learningRate, p.rounds, r.rounds, p.train.maxExamples, r.train.maxExamples]).toEqual(['cnn-dense', 0.1, undefined, 0.003, 30, 30, 500, 500])],
    ['--max-examples (both arms)', ['--max-examples', '77'], (p, r) => expect([p.train.maxExamples, r.train.maxExamples, r.train.adversarial?.eps]).toEqual([77, 77, 0.1])],
    ['--rounds (both arms; the warm-up follows: a third of them; the average: a quarter)', ['--rounds', '7'], (p, r) => expect([p.rounds, r.rounds, r.train.adversarial?.warmupRounds, p.averageRounds, r.averageRounds]).toEqual([7, 7, 2, 2, 2])],
    ['--average-rounds (both arms)', ['--average-rounds', '5'], (p, r) => expect([p.averageRounds, r.averageRounds, r.rounds]).toEqual([5, 5, 240])],
    ['--adv-warmup (the robust arm only)', ['--adv-warmup', '5'], (p, r) => expect([p.train.adversarial, r.train.adversarial?.warmupRounds]).toEqual([undefined, 5])],
  ])('%s', async (_, argv, check) => {
    const calls = await simulateRecorded(['--preset', 'robust', ...argv]);
    const [p, r] = calls.map((c) => simulationRunConfig(c));
    check(p, r, calls);
  });
});

describe('--preset robust: the comparison table and robust-comparison.json read each arm’s final evaluation', () => {
  it('PGD, Square and the per-example worst case at the headline ε, clean and the clean cost, per arm', async () => {
    // Stand-in final evaluations: only the fields the comparison reads, different per arm.
    const evaluation = (clean: number, pgd: number, square: number, worst: number) => ({
      epsUnits: 'absolute',
      examples: 30,
      adversarialExamples: 1000,
      clean: { accuracy: clean, ece: 0.05 },
      noise: [],
      corruptionMean: null,
      fgsm: [{ eps: 0.06, accuracy: 0.9 }],
      pgd: [{ eps: 0.06, steps: 40, stepSize: 0.01, accuracy: pgd }],
      square: [{ eps: 0.06, queries: 1000, pInit: 0.8, meanQueries: 500, accuracy: square }],
      worstCase: [{ eps: 0.06, attacks: ['fgsm', 'pgd', 'square'], accuracy: worst }],
      warnings: [],
    });
    const arms = [evaluation(0.93, 0.12, 0.2, 0.11), evaluation(0.92, 0.69, 0.705, 0.685)];
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      let call = 0;
      const command = simulateCommand({
        runSimulation: async () => {
          // The arms' holdout accuracies (their tables' last numbers) differ from their 30-digit robustness samples'.
          const report = { runId: `arm-${call}`, status: 'complete', rounds: [], final: { accuracy: [0.699, 0.595][call] }, finalRobustness: arms[call++] } as unknown as RunReport;
          return { report, reportPath: join(dir, 'recorded', 'report.json'), runDir: join(dir, 'recorded'), backend: 'cpu', sites: [] };
        },
      });
      command.exitOverride();
      await command.parseAsync(['--out', join(dir, 'table'), '--preset', 'robust'], { from: 'user' });
    } finally {
      log.mockRestore();
    }
    const rowOf = (label: string) => lines.find((l) => l.startsWith(label))?.slice(34).trim().split(/\s+/);
    // The attacked shares with ± 2 binomial standard errors over the 1000 attacked digits: 2·√(0.12·0.88/1000) = 2.1 points.
    expect(rowOf('PGD-40 at the headline ε = 0.06')).toEqual(['12.0%', '±2.1', '69.0%', '±2.9']);
    expect(rowOf('Square (black-box) at ε = 0.06')).toEqual(['20.0%', '±2.5', '70.5%', '±2.9']);
    expect(rowOf('worst case per example, ε = 0.06')).toEqual(['11.0%', '±2.0', '68.5%', '±2.9']);
    expect(lines).toContain(`${''.padEnd(34)}(± 2 standard errors over 1000 / 1000 attacked holdout digits)`);
    // The clean accuracy and its cost are the holdout's (before, the robustness sample's: a cost of 0 from 30 digits).
    expect(rowOf('clean accuracy (holdout)')).toEqual(['69.9%', '59.5%']);
    expect(rowOf('clean, 30-digit robustness sample')).toEqual(['93.0%', '92.0%']);
    const comparison = JSON.parse(readFileSync(join(dir, 'table', 'robust-comparison.json'), 'utf8'));
    expect(comparison.headline).toEqual({
      plain: { clean: 0.699, attacked: 1000, cleanOnSample: 0.93, pgd: 0.12, square: 0.2, worstCase: 0.11 },
      adversarial: { clean: 0.595, attacked: 1000, cleanOnSample: 0.92, pgd: 0.69, square: 0.705, worstCase: 0.685 },
      cleanCost: expect.closeTo(0.104, 12),
    });
  });
});
