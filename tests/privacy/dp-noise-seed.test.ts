import { describe, expect, it } from 'vitest';
import { DpConfig, dpNoiseRandom } from '../../coordinator/src/engine/dp-aggregation.ts';

const bytes = (r: ReturnType<typeof dpNoiseRandom>) => Array.from(r.bytes(32));

describe('the noise of DP-FedAvg', () => {
  it('comes from the system CSPRNG by default: two draws differ', () => {
    expect(DpConfig.parse({ noiseMultiplier: 1, clip: 1 }).noiseSeed).toBeUndefined();
    expect(bytes(dpNoiseRandom({}, 1))).not.toEqual(bytes(dpNoiseRandom({}, 1)));
  });
  it('with a noise seed (simulation only) is the same for the same seed and round, and differs across rounds and seeds', () => {
    expect(bytes(dpNoiseRandom({ noiseSeed: 5 }, 3))).toEqual(bytes(dpNoiseRandom({ noiseSeed: 5 }, 3)));
    expect(bytes(dpNoiseRandom({ noiseSeed: 5 }, 3))).not.toEqual(bytes(dpNoiseRandom({ noiseSeed: 5 }, 4)));
    expect(bytes(dpNoiseRandom({ noiseSeed: 5 }, 3))).not.toEqual(bytes(dpNoiseRandom({ noiseSeed: 6 }, 3)));
  });
  it('a noise seed must be a non-negative integer', () => {
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 1, noiseSeed: -1 })).toThrow();
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 1, noiseSeed: 1.5 })).toThrow();
  });
});
