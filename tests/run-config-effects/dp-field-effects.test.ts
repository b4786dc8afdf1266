import { describe, expect, it } from 'vitest';
import { aggregateDp, mergeRunConfig, resolveDpNoise, type PartialRunConfigInput, type RunConfig } from '@fedtune/coordinator';
import { ChaChaRandom, RdpAccountant, type WeightArrays } from '@fedtune/shared';

/**
 * Effect tests of the run config's client-level DP fields (run-config-field-coverage.test.ts): two run configs
 * that differ only in the field give a different DP-FedAvg round — the aggregate, the next round's clip, or the
 * mechanism the engine picks — on the same updates with the same seeded noise. The round engine calls these
 * with `config.dp` as it is (round-engine.ts, round-loop.ts).
 */

const GLOBAL: WeightArrays = [Float32Array.from([0, 0, 0, 0])];
/** Three sites' weights: update norms 0.5, 2 and 4. */
const UPDATES: WeightArrays[] = [[Float32Array.from([0.5, 0, 0, 0])], [Float32Array.from([0, 2, 0, 0])], [Float32Array.from([0, 0, 0, 4])]];

const config = (partial: PartialRunConfigInput): RunConfig => mergeRunConfig({ runId: 'dp-effects', ...partial });
const dp = (fields: Record<string, unknown>): PartialRunConfigInput => ({ dp: { noiseMultiplier: 0.5, clip: 1, ...fields } as never });

/** One DP-FedAvg round of `partial`'s dp settings over UPDATES, noise from a fixed seed. */
function round(partial: PartialRunConfigInput) {
  const c = config(partial);
  return aggregateDp(GLOBAL, UPDATES, UPDATES.length, c.dp!.clip, c.dp!, new ChaChaRandom(new Uint8Array(32).fill(5)));
}

const ROWS: Record<string, [without: PartialRunConfigInput, changed: PartialRunConfigInput, observe: (c: PartialRunConfigInput) => unknown]> = {
  'dp.noiseMultiplier': [dp({ noiseMultiplier: 0 }), dp({ noiseMultiplier: 1 }), (p) => Array.from(round(p).weights[0]!)],
  'dp.clip': [dp({ noiseMultiplier: 0, clip: 0.25 }), dp({ noiseMultiplier: 0, clip: 3 }), (p) => Array.from(round(p).weights[0]!)],
  'dp.adaptive.targetQuantile': [dp({ adaptive: { targetQuantile: 0.2 } }), dp({ adaptive: { targetQuantile: 0.9 } }), (p) => round(p).nextClip],
  'dp.adaptive.learningRate': [dp({ adaptive: { targetQuantile: 0.5, learningRate: 0.05 } }), dp({ adaptive: { targetQuantile: 0.5, learningRate: 0.8 } }), (p) => round(p).nextClip],
  // δ of the (ε, δ) the round reports: the round loop steps its accountant by the round and reads ε at dp.delta (round-loop.ts).
  'dp.delta': [dp({ delta: 1e-5 }), dp({ delta: 1e-3 }), (p) => {
    const accountant = new RdpAccountant();
    accountant.step(config(p).dp!.noiseMultiplier, 1);
    return accountant.getEpsilon(config(p).dp!.delta).epsilon;
  }],
  // Under secure aggregation the engine adds the noise centrally or has the sites add it on the ring (round-engine.ts).
  'dp.noise': [
    { ...dp({ noise: 'central' }), secureAggregation: { clip: 1 } },
    { ...dp({ noise: 'distributed' }), secureAggregation: { clip: 1 } },
    (p) => resolveDpNoise(config(p).dp!, config(p).secureAggregation !== undefined),
  ],
};

describe('every client-level DP field of the run config changes the DP-FedAvg round', () => {
  it('the same settings give the same round (the seeded noise makes the rows comparable)', () => {
    expect(round(dp({}))).toEqual(round(dp({})));
  });
  it.each(Object.entries(ROWS))('%s', (_field, [without, withField, observe]) => {
    expect(observe(withField)).not.toEqual(observe(without));
  });
});
