// Ctrl-C (SIGINT) or SIGTERM while the real `fedtune coordinator` listens but is still loading its model and
// holdout: one line, the shell's status for the signal, no run started and nothing of a run written
// (cli/src/commands/exit-on-signal-while-starting.ts). The signal is sent as soon as the process says it
// listens and loads: the load yields to the event loop before and after the holdout's parse, so the signal is
// handled before the run starts.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

describe('fedtune coordinator interrupted while loading its model and holdout', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: one line, exit status %i, no run directory', async (signal, status) => {
    const out = join(tempDir(), 'runs');
    let sent = false;
    const run = fedtune(['coordinator', '--port', '0', '--min-sites', '1000', '--out', out], (line, child) => {
      if (!sent && /listening on http/.test(line)) {
        sent = true;
        child.kill(signal);
      }
    });
    const exit = await run.done;
    expect(sent, exit.stdout).toBe(true);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(status);
    const errors = exit.stderr.split('\n').filter((l) => l.trim() !== '' && !/^(warning|note):/.test(l));
    expect(errors).toEqual([`fedtune: interrupted (${signal}) while loading the model and the holdout; no run was started`]);
    expect(exit.stdout).not.toMatch(/ ready: waiting for/);
    // No run was started: no run directory, no checkpoint, report or temporary file anywhere.
    const files = readdirSync(out, { recursive: true }).map(String);
    expect(files.filter((f) => /^run-|checkpoint|report|\.tmp/.test(f))).toEqual([]);
  }, 120_000);
});
