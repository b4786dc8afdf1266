import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_DP_DELTA } from '@fedtune/shared';
import { DpConfig } from '@fedtune/coordinator/config';
import { dpEpsilonCommand } from '../../cli/src/commands/dp-epsilon-command.ts';

/** Runs `fedtune dp-epsilon ARGS` in process; commander's exits become thrown errors. */
async function run(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (stdout += a.join(' ') + '\n'));
  const cmd = dpEpsilonCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  try {
    await cmd.parseAsync(args, { from: 'user' });
    return { stdout, stderr, exitCode: 0 };
  } catch (err) {
    return { stdout, stderr, exitCode: (err as { exitCode?: number }).exitCode ?? 1 };
  } finally {
    log.mockRestore();
  }
}

describe('fedtune dp-epsilon', () => {
  it('prints ε and the best order (TF-Privacy MNIST setting: q = 256/60000, z = 1.12, 60 epochs)', async () => {
    const r = await run(['--sampling-rate', String(256 / 60000), '--noise', '1.12', '--steps', '14040', '--delta', '1e-5']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^ε = 2\.51\d\d at δ = 1e-5 \(best RDP order 8\.\d\)/);
    const json = await run(['--sampling-rate', String(256 / 60000), '--noise', '1.12', '--steps', '14040', '--delta', '1e-5', '--conversion', 'classic', '--json']);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.epsilon).toBeCloseTo(2.92, 2);
    expect(parsed).toMatchObject({ delta: 1e-5, conversion: 'classic', steps: 14040 });
  });

  it('says so when there is no noise', async () => {
    const r = await run(['--sampling-rate', '0.1', '--noise', '0', '--steps', '10', '--delta', '1e-5']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/ε = ∞/);
  });

  it('exits non-zero with a clear message on bad or missing input', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--sampling-rate', '2', '--noise', '1', '--steps', '10', '--delta', '1e-5'], /sampling-rate must be a number in \[0, 1\]/],
      [['--sampling-rate', '0.1', '--noise', '-1', '--steps', '10', '--delta', '1e-5'], /noise must be a number/],
      [['--sampling-rate', '0.1', '--noise', '1', '--steps', '2.5', '--delta', '1e-5'], /steps must be an integer/],
      [['--sampling-rate', '0.1', '--noise', '1', '--steps', '10', '--delta', '1'], /delta must be a number in \(0, 1\)/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.exitCode, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('fedtune dp-epsilon without --delta', () => {
  it("states ε at the run config's default δ (one constant: DpConfig's default), the same numbers as --delta 1e-5", async () => {
    expect(DpConfig.shape.delta.parse(undefined)).toBe(DEFAULT_DP_DELTA);
    expect(DEFAULT_DP_DELTA).toBe(1e-5);
    const args = ['--sampling-rate', '0.01', '--noise', '1.1', '--steps', '10'];
    const without = await run(args);
    expect(without.exitCode).toBe(0);
    expect(without.stdout).toBe((await run([...args, '--delta', '1e-5'])).stdout);
    expect(without.stdout).toMatch(/^ε = 0\.8327 at δ = 1e-5/);
    expect((await run([...args, '--delta', '1e-3'])).stdout).not.toBe(without.stdout);
  });
});
