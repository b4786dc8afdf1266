import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { tempDir } from './helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from './helpers/fedtune-cli.ts';


describe('the fedtune command line', () => {
  it('partition → coordinator → two client processes: the run completes and every process exits 0', async () => {
    const dir = tempDir();
    const part = await fedtune(['partition', '--task', 'digits', '--sites', '2', '--partition', 'iid', '--seed', '3', '--out', dir]).done;
    expect(part.code, part.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['holdout.csv', 'site-1.csv', 'site-2.csv']);
    const header = readFileSync(join(dir, 'site-1.csv'), 'utf8').split('\n', 1)[0].split(',');
    expect(header[0]).toBe('label');
    expect(header).toHaveLength(785);

    const coordinator = fedtuneCoordinator(['--port', '0', '--host', '127.0.0.1', '--rounds', '2', '--min-sites', '2', '--seed', '5', '--out', join(dir, 'runs'), '--run-id', 'cli-run']);
    const url = await coordinator.url;
    expect(url, 'coordinator printed its URL').toBeDefined();
    const sites = ['site-1', 'site-2'].map((name) => fedtune(['client', '--server', url!, '--site', name, '--data', join(dir, `${name}.csv`)]).done);
    const [c, ...s] = await Promise.all([coordinator.done, ...sites]);
    expect(c.code, c.stderr).toBe(0);
    for (const site of s) {
      expect(site.code, site.stderr).toBe(0);
      expect(site.stdout).toMatch(/run cli-run complete after 2 rounds \(2 trained here\)/);
      // No differential privacy in this run: no per-round privacy ledger line (it would say ε 0 every round).
      expect(site.stdout).not.toMatch(/^round \d+: privacy ledger/m);
      expect(site.stdout).toMatch(/^round 2: trained on \d+ examples/m);
    }
    const reportPath = c.stdout.trim().split('\n').at(-1)!;
    expect(reportPath).toBe(join(dir, 'runs', 'cli-run', 'report.json'));
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.accepted.length)).toEqual([2, 2]);
    expect(report.final!.accuracy).toBeGreaterThan(report.pretrained!.accuracy);
    expect(existsSync(join(dir, 'runs', 'cli-run', 'models', 'round-2', 'weights.bin'))).toBe(true);
  }, 300_000);

  it('simulate prints a table and ends with the report path', async () => {
    const out = tempDir();
    const r = await fedtune(['simulate', '--sites', '3', '--rounds', '2', '--seed', '9', '--out', out, '--transport', 'memory']).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tfjs backend: (wasm|cpu|tensorflow)/);
    expect(r.stdout).toMatch(/round\s+accuracy\s+loss/);
    const last = r.stdout.trim().split('\n').at(-1)!;
    expect(last.startsWith(out)).toBe(true);
    expect(last.endsWith('report.json')).toBe(true);
    const report = JSON.parse(readFileSync(last, 'utf8')) as RunReport;
    expect(report.rounds).toHaveLength(2);
    expect(report.config).toMatchObject({ seed: 9, rounds: 2, minSites: 3 });
    // the label distribution per site is printed and plotted in report.html, next to the robustness plots
    expect(r.stdout).toMatch(/label distribution per site/);
    const html = readFileSync(last.replace(/report\.json$/, 'report.html'), 'utf8');
    expect(html).toContain('Label distribution per site');
    expect(html).toContain('Robust accuracy against ε');
    // the default ε list and the built-in task's headline ε (0.06), which is always attacked
    expect(report.finalRobustness?.fgsm.map((a) => a.eps)).toEqual([0.05, 0.06, 0.1, 0.2, 0.3]);
    expect(report.finalRobustness?.headlineEps).toBe(0.06);
  }, 300_000);

  it('rejects bad arguments with a clear message and a non-zero exit', async () => {
    const r = await fedtune(['simulate', '--sites', 'zero']).done;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sites must be an integer/);
    const p = await fedtune(['simulate', '--partition', 'weird', '--rounds', '1', '--out', tempDir()]).done;
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/config: unknown partition "weird"/);
    // Checked before the tfjs backend is chosen: the error is the one line printed.
    expect(p.stdout).not.toMatch(/tfjs backend/);
    const a = await fedtune(['simulate', '--arch', 'resnet', '--rounds', '1', '--out', tempDir()]).done;
    expect(a.code).not.toBe(0);
    expect(a.stderr.trim()).toBe('fedtune: config: unknown architecture "resnet" for the digits task (known: cnn, cnn-bn, cnn-dense, cnn-wide, mlp)');
    expect(a.stdout).toBe('');
  });
});
