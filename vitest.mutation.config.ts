import { defineConfig } from 'vitest/config';

/**
 * The vitest config StrykerJS runs against mutants (scripts/mutation.mjs, `npm run mutation`): only the
 * test files of the module under mutation, passed in FEDTUNE_MUTATION_TESTS (a JSON list of paths), so each
 * mutant runs a few fast tests and not the whole suite.
 */
const listed = process.env.FEDTUNE_MUTATION_TESTS;
if (!listed) throw new Error('vitest.mutation.config.ts is for scripts/mutation.mjs: FEDTUNE_MUTATION_TESTS is not set');

export default defineConfig({
  test: {
    include: JSON.parse(listed) as string[],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
