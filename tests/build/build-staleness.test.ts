import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { build, buildSteps, staleReason, type BuildStep } from '../../scripts/build.mjs';

/**
 * `npm run build` (scripts/build.mjs, run before `npm start` and `npm test`) skips a step whose output is
 * newer than everything it is built from, and builds it when any input changed: here on a scratch tree
 * shaped like the repository, with file times set by hand (no real build runs).
 */
type Step = BuildStep;

const BUILT_AT = Date.parse('2026-06-01T12:00:00Z');
const BEFORE = new Date(BUILT_AT - 60_000);
const AFTER = new Date(BUILT_AT + 60_000);

/** Every input file of both steps, relative to the root. */
const INPUTS = [
  'shared/src/index.ts',
  'shared/src/policy/inspect-model.ts',
  'shared/package.json',
  'coordinator/src/engine/round.ts',
  'coordinator/package.json',
  'client-node/src/index.ts',
  'client-node/package.json',
  'cli/src/main.ts',
  'cli/package.json',
  'cli/bin/fedtune.mjs',
  'scripts/build-js.mjs',
  'scripts/build-bundles.mjs',
  'scripts/tfjs-for-bundles.mjs',
  'tsconfig.build.json',
  'node_modules/.package-lock.json',
  'client-web/index.html',
  'client-web/bench.html',
  'client-web/vite.config.ts',
  'client-web/package.json',
  'client-web/src/main.ts',
];
const OUTPUTS = ['cli/dist/main.js', 'client-web/dist/index.html', 'client-web/dist/assets/index.js'];

let root: string;
function put(rel: string, content = 'x', time = BEFORE): void {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, time, time);
}
function touch(rel: string, time: Date): void {
  utimesSync(join(root, rel), time, time);
}
const stepNamed = (name: string): Step => buildSteps(root).find((s) => s.name === name)!;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fedtune-build-'));
  for (const rel of INPUTS) put(rel);
  for (const rel of OUTPUTS) put(rel, 'built', AFTER);
  put('cli/dist/build-info.json', JSON.stringify({ builtAt: BUILT_AT }), AFTER);
  put('client-web/dist/build-info.json', JSON.stringify({ builtAt: BUILT_AT }), AFTER);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('npm run build: which steps are current (scripts/build.mjs)', () => {
  it('both steps are current when every input is older than their last build', () => {
    expect(staleReason(root, stepNamed('packages'))).toBeUndefined();
    expect(staleReason(root, stepNamed('browser site'))).toBeUndefined();
  });

  // [the input changed, which steps it makes stale]
  const table: Array<[string, boolean, boolean]> = [
    ['shared/src/policy/inspect-model.ts', true, true],
    ['shared/package.json', true, true],
    ['coordinator/src/engine/round.ts', true, false],
    ['coordinator/package.json', true, false],
    ['client-node/src/index.ts', true, false],
    ['client-node/package.json', true, false],
    ['cli/src/main.ts', true, false],
    ['cli/package.json', true, false],
    ['cli/bin/fedtune.mjs', true, false],
    ['scripts/build-js.mjs', true, false],
    ['scripts/build-bundles.mjs', true, false],
    ['scripts/tfjs-for-bundles.mjs', true, false],
    ['tsconfig.build.json', true, false],
    ['node_modules/.package-lock.json', true, true],
    ['client-web/index.html', false, true],
    ['client-web/bench.html', false, true],
    ['client-web/vite.config.ts', false, true],
    ['client-web/package.json', false, true],
    ['client-web/src/main.ts', false, true],
  ];
  it.each(table)('%s changed after the build: packages stale %s, browser site stale %s', (rel, packages, site) => {
    touch(rel, AFTER);
    const reasons = [staleReason(root, stepNamed('packages')), staleReason(root, stepNamed('browser site'))];
    expect(reasons.map((r) => r !== undefined)).toEqual([packages, site]);
    for (const reason of reasons) if (reason !== undefined) expect(reason).toBe(`${rel} changed since the last build`);
  });

  it('a file saved at the very instant the build started is not newer than it; one a millisecond later is', () => {
    touch('cli/src/main.ts', new Date(BUILT_AT));
    expect(staleReason(root, stepNamed('packages'))).toBeUndefined();
    touch('cli/src/main.ts', new Date(BUILT_AT + 1));
    expect(staleReason(root, stepNamed('packages'))).toBe('cli/src/main.ts changed since the last build');
  });

  it('a new source file counts as a change', () => {
    put('coordinator/src/engine/new-seam.ts', 'export {}', AFTER);
    expect(staleReason(root, stepNamed('packages'))).toBe('coordinator/src/engine/new-seam.ts changed since the last build');
  });

  it('outputs and installed packages inside an input directory are not inputs', () => {
    put('client-web/dist/assets/later.js', 'built', AFTER);
    put('client-web/node_modules/some-dep/index.js', 'dep', AFTER);
    put('client-web/dist.tmp-123/x.js', 'partial', AFTER);
    put('shared/src/node_modules/x.js', 'dep', AFTER);
    expect(staleReason(root, stepNamed('browser site'))).toBeUndefined();
    expect(staleReason(root, stepNamed('packages'))).toBeUndefined();
  });

  it.each([
    ['cli/dist/main.js', 'packages', 'cli/dist/main.js is missing'],
    ['client-web/dist/index.html', 'browser site', 'client-web/dist/index.html is missing'],
    ['cli/dist/build-info.json', 'packages', 'no cli/dist/build-info.json'],
    ['client-web/dist/build-info.json', 'browser site', 'no client-web/dist/build-info.json'],
  ])('without %s the %s step is stale', (rel, name, reason) => {
    rmSync(join(root, rel));
    expect(staleReason(root, stepNamed(name))).toBe(reason);
  });

  it.each([
    ['{"builtAt":"yesterday"}', 'cli/dist/build-info.json has no build time'],
    ['{}', 'cli/dist/build-info.json has no build time'],
    ['not json', 'no cli/dist/build-info.json'],
  ])('a stamp %s makes the step stale: %s', (content, reason) => {
    put('cli/dist/build-info.json', content, AFTER);
    expect(staleReason(root, stepNamed('packages'))).toBe(reason);
  });
});

describe('npm run build: what runs', () => {
  const fakeSteps = (ran: string[], fail?: string): Step[] =>
    buildSteps(root).map((s) => ({ ...s, run: () => (ran.push(s.name), s.name !== fail) }));

  it.each([
    // [changed input, --force, steps that run]
    ['nothing', false, []],
    ['nothing', true, ['packages', 'browser site']],
    ['coordinator/src/engine/round.ts', false, ['packages']],
    ['client-web/src/main.ts', false, ['browser site']],
    ['shared/src/index.ts', false, ['packages', 'browser site']],
  ])('%s changed, force %s: runs %j', (rel, force, expected) => {
    if (rel !== 'nothing') touch(rel, AFTER);
    const ran: string[] = [];
    const lines: string[] = [];
    expect(build(root, { force, log: (l: string) => lines.push(l), steps: fakeSteps(ran) })).toBe(true);
    expect(ran).toEqual(expected);
    for (const name of ['packages', 'browser site']) {
      const line = lines.find((l) => l.startsWith(`build: ${name} `))!;
      expect(line.includes('skipped')).toBe(!expected.includes(name));
    }
  });

  it('a failing step stops the build and fails it', () => {
    const ran: string[] = [];
    expect(build(root, { force: true, log: () => {}, steps: fakeSteps(ran, 'packages') })).toBe(false);
    expect(ran).toEqual(['packages']);
  });
});
