import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
