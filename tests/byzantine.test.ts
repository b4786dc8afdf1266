import { describe, expect, it } from 'vitest';
import { runSimulation, type SimulationOptions } from '@fedtune/cli';
import { tempDir } from './helpers/federation.ts';

/**
 * 10 sites, 2 of them (20%) sending Gaussian noise (σ = 1). FedAvg without the poisoning defences breaks;
 * FedAvg with them (the default), median, trimmed mean, Multi-Krum and centered clipping stay within 3
 * points of the run without an attack (same seed).
 */
describe('a federation with 20% Gaussian attackers', () => {
  const out = tempDir();
  const base: SimulationOptions = { sites: 10, rounds: 3, seed: 5, out, transport: 'memory', partition: 'iid', maxExamples: 200, federatedEvaluation: 'never', robustness: { when: 'never' } };
  const accuracy: Record<string, number> = {};

  async function cell(name: string, extra: Partial<SimulationOptions>): Promise<number> {
    const r = await runSimulation({ ...base, ...extra });
    expect(r.report.status, r.report.aborted).toBe('complete');
    accuracy[name] = r.report.final!.accuracy;
    return accuracy[name];
  }

  it('FedAvg without attack (the reference) and, with the poisoning defences off, with the attack (clearly worse)', async () => {
    const clean = await cell('fedavg/none', {});
    const attacked = await cell('fedavg/gaussian', { attack: 'gaussian', defences: { normBoundMultiple: 0, exampleWeightCap: 0, maxAccuracyDrop: 1 } });
    expect(clean).toBeGreaterThan(0.7);
    expect(attacked).toBeLessThan(clean - 0.15);
  });

  it('FedAvg with the default poisoning defences stays within 3 points', async () => {
    const acc = await cell('fedavg-defaults/gaussian', { attack: 'gaussian' });
    expect(acc).toBeGreaterThan(accuracy['fedavg/none'] - 0.03);
  });

  it.each([
    ['median', {}],
    ['trimmed-mean', { beta: 0.2 }],
    ['multi-krum', { f: 2 }],
    ['centered-clipping', {}],
  ] as const)('%s stays within 3 points of the clean FedAvg run', async (strategy, strategyOptions) => {
    const acc = await cell(`${strategy}/gaussian`, { attack: 'gaussian', strategy, strategyOptions });
    expect(acc).toBeGreaterThan(accuracy['fedavg/none'] - 0.03);
  });
});
