import { defineConfig } from 'vitest/config';

/**
 * Only the weights codec's tests: the test set StrykerJS runs against mutants of the codec (stryker.config.json).
 * Stryker is not a devDependency (it would churn the lockfile); to measure:
 *   npm install --no-save @stryker-mutator/core@9 @stryker-mutator/vitest-runner@9 && npx stryker run
 * (inPlace: the workspace symlink @fedtune/shared would otherwise load the unmutated file; ~18 min on 2 cores.)
 */
export default defineConfig({
  test: {
    include: ['tests/codec.test.ts', 'tests/fuzz/weights-codec-properties.test.ts'],
    testTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
