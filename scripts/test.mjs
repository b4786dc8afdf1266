#!/usr/bin/env node
// Runs vitest with its JSON reporter and ends with one plain line: "N passed, N failed".
// Extra arguments are passed through to vitest (e.g. `npm test -- tests/codec.test.ts`).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { scratchTmpdir } from './scratch-tmpdir.mjs';

const out = '.vitest-results.json';
// The tests' temporary files live in one directory of the run's, removed when it ends (scratch-tmpdir.mjs).
const scratch = scratchTmpdir('test');
rmSync(out, { force: true });
const run = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)],
  { stdio: 'inherit', env: { ...process.env, ...scratch.env } },
);
scratch.remove();
let passed = 0;
let failed = 0;
if (existsSync(out)) {
  const results = JSON.parse(readFileSync(out, 'utf8'));
  passed = results.numPassedTests ?? 0;
  failed = results.numFailedTests ?? 0;
  // A test file that fails to load has no tests; count it so it cannot hide.
  for (const file of results.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed += 1;
    // A worker that crashes leaves its file's tests neither passed nor failed: name the file, so a crash is traceable.
    const unfinished = (file.assertionResults ?? []).filter((t) => !['passed', 'failed', 'skipped', 'todo'].includes(t.status));
    if (unfinished.length > 0) console.log(`did not finish: ${file.name} (${unfinished.length} of ${(file.assertionResults ?? []).length} tests)`);
  }
} else {
  failed = 1;
}
if (run.status !== 0 && failed === 0) {
  // vitest failed without a failing test: a crashed worker or an unhandled error. Never report that as green.
  console.log(`vitest exited with code ${run.status} (a worker crashed or an error was unhandled): counted as a failure`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
