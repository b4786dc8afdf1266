import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_ECHOED_FAILURES, SiteFailureEcho } from '../../cli/src/simulation/site-failure-echo.ts';
import { simulateCommand } from '../../cli/src/commands/simulate-command.ts';
import type { SiteEvent } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';

const failed = (code: string, reason: string): SiteEvent => ({ type: 'failed', round: 1, code, reason });

describe("SiteFailureEcho: a simulated site's own account of its failure", () => {
  it('one line per distinct code and reason, at most MAX_ECHOED_FAILURES, nothing for other events; bounded', () => {
    const echo = new SiteFailureEcho();
    expect(echo.line('site-1', { type: 'connected' } as SiteEvent)).toBeUndefined();
    expect(echo.line('site-1', failed('config', 'DP-SGD cannot be combined with TRADES'))).toBe('site-1 failed (its own account, which a real site keeps to itself): config: DP-SGD cannot be combined with TRADES');
    expect(echo.line('site-2', failed('config', 'DP-SGD cannot be combined with TRADES'))).toBeUndefined();
    expect(echo.line('site-2', failed('data', 'DP-SGD cannot be combined with TRADES'))).toBe('site-2 failed (its own account, which a real site keeps to itself): data: DP-SGD cannot be combined with TRADES');
    for (let k = 0; k < 10; k++) echo.line('site-3', failed('data', `reason ${k}`));
    // 2 + 3 more distinct: the cap.
    expect(echo.line('site-4', failed('data', 'one more'))).toBeUndefined();
    expect(MAX_ECHOED_FAILURES).toBe(5);
    const long = new SiteFailureEcho().line('s'.repeat(500), failed('c'.repeat(500), 'r'.repeat(5000)))!;
    expect(long.length).toBeLessThan(700);
    expect(long).toMatch(/^s{128}… \(372 more characters\) failed/);
  });
});

describe('fedtune simulate prints it', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });
  it('once per reason, before the run ends (a simulation has no site log to read)', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const command = simulateCommand({
        runSimulation: async (options) => {
          for (const site of ['site-1', 'site-2']) options.onSiteEvent?.(site, failed('config', 'the real reason'));
          return { report: { runId: 'r', status: 'aborted', aborted: 'quorum not met', rounds: [] }, reportPath: 'p', runDir: 'd', backend: 'cpu', sites: [] } as never;
        },
      });
      await command.exitOverride().parseAsync(['--sites', '2', '--rounds', '1', '--transport', 'memory', '--out', tempDir('fedtune-echo-')], { from: 'user' });
      const lines = log.mock.calls.map((c) => String(c[0]));
      expect(lines.filter((l) => l.includes('its own account'))).toEqual(['site-1 failed (its own account, which a real site keeps to itself): config: the real reason']);
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  });
});
