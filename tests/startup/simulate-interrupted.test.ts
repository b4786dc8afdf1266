// Ctrl-C (SIGINT) or SIGTERM during the real `fedtune simulate`: the run stops after its current round and is
// saved as a coordinator's is — report.json `aborted` with the rounds done, the report's path printed, exit status
// 1 — rather than the process dying with report.json left `running` (found by a new user's walk through the README).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

describe('fedtune simulate interrupted', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s after round 2: stops after the round, report aborted, its path printed', async (signal) => {
    const out = tempDir();
    let sent = false;
    const run = fedtune(['simulate', '--rounds', '60', '--transport', 'memory', '--robustness', 'never', '--federated-eval', 'never', '--out', out], (line, child) => {
      // The progress table's row of round 2: "    2     76.9%   0.755 …"
      if (!sent && /^\s+2\s+\d+\.\d%/.test(line)) {
        sent = true;
        child.kill(signal);
      }
    });
    const exit = await run.done;
    expect(sent, exit.stdout + exit.stderr).toBe(true);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    expect(exit.stdout).toContain('stopping after the current round');
    const lines = exit.stdout.trim().split('\n');
    const reportPath = lines.at(-1)!;
    expect(reportPath).toMatch(/report\.json$/);
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as { status: string; rounds: unknown[]; aborted?: string };
    expect(report.status).toBe('aborted');
    expect(report.rounds.length).toBeGreaterThanOrEqual(2);
    expect(report.rounds.length).toBeLessThan(60);
    expect(exit.stderr).toMatch(new RegExp(`run \\S+ aborted: ${report.aborted}`));
    expect(exit.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 180_000);
});

describe('fedtune coordinator interrupted before its first round', () => {
  it('says the run was aborted before its first round, not "accuracy - → -"', async () => {
    const out = tempDir();
    let sent = false;
    const run = fedtune(['coordinator', '--port', '0', '--min-sites', '3', '--out', out], (line, child) => {
      if (!sent && / ready: waiting for 3 sites/.test(line)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const exit = await run.done;
    expect(sent, exit.stdout + exit.stderr).toBe(true);
    expect(exit.code).toBe(1);
    expect(exit.stdout).toMatch(/^run \S+ aborted before its first round \(stopped while waiting for sites\)$/m);
    expect(exit.stdout).not.toMatch(/- → -/);
  }, 120_000);
});
