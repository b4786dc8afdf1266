import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FEDTUNE_NODE_FLAGS } from '../../cli/bin/node-flags.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');

/** Runs the bin with FEDTUNE_DEBUG=1 and returns its stderr: the bin says which V8 flags it runs with. */
function debugLines(command: string, args: string[]): string {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FEDTUNE_DEBUG: '1' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr;
}

describe('the V8 flags of every fedtune process (cli/bin/node-flags.mjs)', () => {
  it('the shebang passes exactly the flags of node-flags.mjs', () => {
    const first = readFileSync(BIN, 'utf8').split('\n')[0];
    expect(FEDTUNE_NODE_FLAGS).toContain('--single-threaded-gc');
    expect(first).toBe(`#!/usr/bin/env -S node ${FEDTUNE_NODE_FLAGS.join(' ')}`);
  });

  it('the bin run as a program (as npm start, npx and the .bin link run it) has them', () => {
    const out = debugLines(BIN, ['--version']);
    expect(out).toContain(`fedtune: V8 flags ${FEDTUNE_NODE_FLAGS.join(' ')}`);
    expect(out).not.toContain('started without');
  });

  it('the same bin through the workspace link in node_modules/.bin has them', () => {
    expect(debugLines(join(ROOT, 'node_modules', '.bin', 'fedtune'), ['--version'])).toContain(`fedtune: V8 flags ${FEDTUNE_NODE_FLAGS.join(' ')}`);
  });

  it('started as `node cli/bin/fedtune.mjs` it says the flags are missing and how to pass them', () => {
    const out = debugLines(process.execPath, [BIN, '--version']);
    expect(out).toContain(`started without the V8 flags ${FEDTUNE_NODE_FLAGS.join(' ')}`);
    expect(debugLines(process.execPath, [...FEDTUNE_NODE_FLAGS, BIN, '--version'])).toContain(`fedtune: V8 flags ${FEDTUNE_NODE_FLAGS.join(' ')}`);
  });
});
