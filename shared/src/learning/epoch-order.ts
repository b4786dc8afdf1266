import type { TrainConfig } from '../messages/schemas.ts';
import { ChaChaRandom, secureRandomBytes } from '../privacy/chacha-random.ts';
import { SeededRandom } from '../random/seeded-random.ts';

/** What draws each epoch's order of the training examples (fitLocal). */
export interface EpochShuffler {
  shuffle<T>(items: T[]): T[];
}

/**
 * The source of fitLocal's epoch order. Without DP-SGD: `config.seed` (the same config gives the same weights).
 * With `config.dpSgd`: a ChaCha20 stream seeded by the site's own CSPRNG (crypto.getRandomValues), never the
 * coordinator's seed — the RDP accountant's amplification by sampling (q = batch/total) holds only while the
 * adversary, the coordinator included, does not know which records each batch holds. `secretSeed` (32 bytes)
 * is for tests only: whoever knows it knows the batches.
 */
export function epochOrderRandom(config: Pick<TrainConfig, 'seed' | 'dpSgd'>, secretSeed?: Uint8Array): EpochShuffler {
  if (!config.dpSgd) return new SeededRandom(config.seed);
  const random = new ChaChaRandom(secretSeed ?? secureRandomBytes(32));
  return {
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(random.next() * (i + 1));
        [items[i], items[j]] = [items[j], items[i]];
      }
      return items;
    },
  };
}
