// A run id that already holds a run: a new run with it is refused (it would write over the other run's report,
// mix its checkpoints and models with them and continue its audit chain), and resuming a run that has all its
// rounds and ended complete is refused (it would wait for sites again, and a Ctrl-C would turn the complete
// report into "aborted"). Both with one line and nothing on disk changed. Found by a new user's walk through the README.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

/** Every file under `dir` with its bytes, to compare before and after. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(join(entry.parentPath, entry.name), readFileSync(join(entry.parentPath, entry.name)).toString('base64'));
  }
  return files;
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !/^(warning|note):/.test(l));

describe('a run id that already holds a run', () => {
  it('a new run with it is refused in one line, and the earlier run is left exactly as it was; resuming it when complete is refused too', async () => {
    const out = tempDir();
    const first = await fedtune(['simulate', '--run-id', 'consortium-1', '--rounds', '2', '--sites', '3', '--transport', 'memory', '--robustness', 'never', '--federated-eval', 'never', '--out', out]).done;
    expect(first.code, first.stderr).toBe(0);
    const runDir = join(out, 'consortium-1');
    const before = snapshot(runDir);
    expect(JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')).status).toBe('complete');

    const again = await fedtune(['simulate', '--run-id', 'consortium-1', '--rounds', '1', '--sites', '3', '--transport', 'memory', '--robustness', 'never', '--federated-eval', 'never', '--out', out]).done;
    expect(again.code).toBe(1);
    expect(errorLines(again.stderr)).toHaveLength(1);
    expect(again.stderr).toMatch(/run consortium-1 already exists in .*: give another run id .*--resume consortium-1/);
    expect(snapshot(runDir)).toEqual(before);

    // A coordinator for a new run with that id: refused before it listens (no "listening" line, no port bound).
    const taken = await fedtune(['coordinator', '--run-id', 'consortium-1', '--port', '0', '--out', out]).done;
    expect(taken.code).toBe(1);
    expect(errorLines(taken.stderr)).toHaveLength(1);
    expect(taken.stderr).toMatch(/run consortium-1 already exists in .*: give another run id .*--resume consortium-1/);
    expect(taken.stdout).not.toMatch(/listening/);
    expect(snapshot(runDir)).toEqual(before);

    // Resuming the complete run: refused before listening or waiting for any site; its report stays complete.
    const resumed = await fedtune(['coordinator', '--resume', 'consortium-1', '--port', '0', '--out', out]).done;
    expect(resumed.code).toBe(1);
    expect(errorLines(resumed.stderr)).toHaveLength(1);
    expect(resumed.stderr).toMatch(/run consortium-1 already has all of its 2 rounds \(checkpoint of round 2\): nothing to resume; to train it longer, raise its rounds above 2/);
    expect(resumed.stdout).not.toMatch(/waiting for/);
    expect(snapshot(runDir)).toEqual(before);

    // With its rounds raised it resumes (to train longer): it waits for its sites again.
    let ready = '';
    const longer = await fedtune(['coordinator', '--resume', 'consortium-1', '--rounds', '3', '--port', '0', '--out', out], (line, child) => {
      if (!ready && / ready \(resumed after round 2\): waiting for 3 sites/.test(line)) {
        ready = line;
        child.kill('SIGINT');
      }
    }).done;
    expect(ready, longer.stdout + longer.stderr).not.toBe('');
    // Stopped before any new round: the finished run is as it was — complete, its 2 planned rounds — and a plain
    // resume is still "nothing to resume" (before, the report said aborted with 3 rounds planned, and resumed).
    const after = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8'));
    expect([after.status, after.rounds.length, after.config.rounds, after.aborted]).toEqual(['complete', 2, 2, undefined]);
    const again2 = await fedtune(['coordinator', '--resume', 'consortium-1', '--port', '0', '--out', out]).done;
    expect(again2.code).toBe(1);
    expect(again2.stderr).toMatch(/nothing to resume/);
  }, 240_000);
});
