import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planSimulation, runSimulation, type SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { thrownAsync } from '../helpers/thrown.ts';
import { tempDir } from '../helpers/federation.ts';

/** The simulation options a `fedtune simulate` command line asks for (parsed, not run). */
function parsed(args: string[]): SimulationOptions {
  const command = simulateCommand({ runSimulation: async () => ({}) as never });
  command.exitOverride().configureOutput({ writeErr: () => {} });
  command.action(() => {});
  command.parse(args, { from: 'user' });
  return simulationOptionsFromCommand(command);
}

const quick = { rounds: 1, federatedEvaluation: 'never' as const, robustness: { when: 'never' as const }, transport: 'memory' as const };

describe('simulate --site-data: flag → options', () => {
  it.each([
    [[], undefined],
    [['--site-data', 'partition'], { mode: 'partition' }],
    [['--site-data', 'resample:25'], { mode: 'resample', examples: 25 }],
  ])('%j gives siteData %j', (args, siteData) => {
    expect(parsed(args).siteData).toEqual(siteData);
  });

  it('refuses a bad --site-data with its reason', () => {
    expect(() => parsed(['--site-data', 'resample:3'])).toThrow(/resample:N takes N in 10\.\.10000, got 3/);
  });
});

describe('simulate --site-data: options → the federation', () => {
  it('2,000 sites with --site-data partition are refused (the pool is too small); resample plans them without making any data', async () => {
    expect((await thrownAsync(() => planSimulation({ sites: 2000, out: tempDir(), transport: 'memory', siteData: { mode: 'partition' } }))).message).toContain('examples are too few for 2000 sites');
    const plan = await planSimulation({ sites: 2000, out: tempDir(), transport: 'memory' });
    expect(plan.siteData).toEqual({ siteData: { mode: 'resample', examples: 40 }, automatic: true, reason: "2000 sites × 10 digits is more than the pool's 7900" });
    expect(plan.datasets).toEqual([]);
    expect(plan.virtualSites?.materialised).toBe(0);
    // Virtual sites drop the model after every instruction and federated evaluation asks at most 100 of them.
    expect(plan.config.sitesKeepModel).toBe(false);
    expect(plan.config.maxEvaluationSites).toBe(100);
    expect(plan.config.minSites).toBe(2000);
  });

  it('flags over the virtual-site defaults win (--max-evaluation-sites)', async () => {
    const plan = await planSimulation({ sites: 2000, out: tempDir(), transport: 'memory', config: { maxEvaluationSites: 7 } });
    expect(plan.config.maxEvaluationSites).toBe(7);
  });

  it('a small federation partitions by default and keeps the run defaults', async () => {
    const plan = await planSimulation({ sites: 4, out: tempDir(), transport: 'memory' });
    expect(plan.siteData).toEqual({ siteData: { mode: 'partition' }, automatic: true });
    expect(plan.datasets).toHaveLength(4);
    expect(plan.config.sitesKeepModel).toBe(true);
    expect(plan.config.maxEvaluationSites).toBe(0);
  });

  it.each([
    [{ partition: 'shards:2' }, '--site-data resample takes --partition iid or dirichlet:ALPHA, not shards'],
    [{ attack: 'alie' }, '--attack needs --site-data partition'],
    [{ task: 'spam' as const }, '--site-data resample is for the digits task'],
  ])('resample refuses %j', async (extra, message) => {
    expect((await thrownAsync(() => planSimulation({ sites: 50, out: tempDir(), transport: 'memory', siteData: { mode: 'resample', examples: 20 }, ...extra }))).message).toContain(message);
  });

  it('--partition iid and dirichlet:α reach the virtual sites as their label skew', async () => {
    const iid = await planSimulation({ sites: 900, out: tempDir(), transport: 'memory', partition: 'iid' });
    const skewed = await planSimulation({ sites: 900, out: tempDir(), transport: 'memory', partition: 'dirichlet:0.2' });
    expect(iid.virtualSites?.spec.alpha).toBeUndefined();
    expect(skewed.virtualSites?.spec.alpha).toBe(0.2);
  });

  it('resample:20 runs 30 virtual sites: updates weigh 16 train examples, the report says which data, nothing is left live', async () => {
    let sites: { live: number; materialised: number } | undefined;
    const result = await runSimulation({ sites: 30, fraction: 0.1, out: tempDir(), siteData: { mode: 'resample', examples: 20 }, seed: 3, ...quick, onVirtualSites: (s) => (sites = s) });
    expect(result.report.status).toBe('complete');
    expect(result.report.rounds[0].accepted.map((a) => a.numExamples)).toEqual([16, 16, 16]);
    expect(result.report.rounds[0].selected.every((id) => /^v-000[0-2]\d$/.test(id))).toBe(true);
    expect(result.report.simulation?.siteData).toEqual({ mode: 'resample', examples: 20, automatic: false });
    expect(sites?.materialised).toBe(3);
    expect(sites?.live).toBe(0);
  }, 300_000);
});

describe('fedtune simulate at scale (CLI)', () => {
  it('simulate --sites 2000 --fraction 0.01 --transport memory completes, and says it resamples', async () => {
    const out = tempDir();
    const run = fedtune(['simulate', '--sites', '2000', '--fraction', '0.01', '--transport', 'memory', '--rounds', '1', '--robustness', 'never', '--federated-eval', 'never', '--out', out]);
    const r = await run.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('site data: resample:40 — each site draws 40 digits with replacement');
    expect(r.stdout).toContain('chosen automatically: 2000 sites × 10 digits');
    // No line per site at this size: joins are reported per tenth.
    expect(r.stdout).not.toContain('site joined:');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('waiting for sites:')).length).toBeLessThanOrEqual(11);
    const reportPath = r.stdout.trim().split('\n').at(-1)!;
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    expect(report.status).toBe('complete');
    expect(report.simulation.siteData).toEqual({ mode: 'resample', examples: 40, automatic: true });
    expect(report.rounds[0].selected).toHaveLength(20);
    expect(report.rounds[0].accepted).toHaveLength(20);
  }, 400_000);
});
