import { describe, expect, it } from 'vitest';
import { siteTrainConfig, type TrainConfig } from '@fedtune/shared';

const instruction: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 1, adversarial: { method: 'pgd', share: 1, eps: 0.02, steps: 7, warmupRounds: 5 } };

describe("a site's own adversarial settings over the coordinator's (site flag > coordinator instruction)", () => {
  it('without settings the instruction is used as sent', () => {
    expect(siteTrainConfig(instruction, undefined, 1)).toBe(instruction);
    expect(siteTrainConfig(instruction, {}, 1)).toBe(instruction);
  });

  it.each([
    [{ steps: 3 }, { steps: 3, eps: 0.02 }],
    [{ share: 0 }, { share: 0 }],
    [{ method: 'trades', beta: 2 } as const, { method: 'trades', beta: 2 }],
    [{ norm: 'l2' } as const, { norm: 'l2' }],
    [{ epsUnits: 'data-std' } as const, { epsUnits: 'data-std' }],
  ])('%j overrides only those fields (the coordinator\'s round ε stays)', (site, want) => {
    expect(siteTrainConfig(instruction, site, 1).adversarial).toMatchObject({ ...instruction.adversarial, ...want });
  });

  it("a site's own ε is warmed up for the round (with the coordinator's k, or the site's own)", () => {
    expect(siteTrainConfig(instruction, { eps: 0.1 }, 1).adversarial!.eps).toBeCloseTo(0.02, 12);
    expect(siteTrainConfig(instruction, { eps: 0.1 }, 5).adversarial!.eps).toBe(0.1);
    expect(siteTrainConfig(instruction, { eps: 0.1, warmupRounds: 2 }, 1).adversarial!.eps).toBeCloseTo(0.05, 12);
  });

  it('turns adversarial training on at a site whose instruction has none, given an ε; without one it is a config error', () => {
    const { adversarial: _, ...plain } = instruction;
    expect(siteTrainConfig(plain, { eps: 0.05 }, 1).adversarial).toEqual({ method: 'pgd', share: 1, eps: 0.05 });
    expect(() => siteTrainConfig(plain, { steps: 3 }, 1)).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('settings the schema refuses are a config error', () => {
    expect(() => siteTrainConfig(instruction, { beta: 3 }, 1)).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('beta') }));
    expect(() => siteTrainConfig(instruction, { eps: 5 }, 1)).toThrow(expect.objectContaining({ code: 'config' }));
  });
});
