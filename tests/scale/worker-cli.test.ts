import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import type { RunVirtualSitesOptions } from '@fedtune/client-node';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { workerCommand } from '../../cli/src/commands/worker-command.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { head, tempDir } from '../helpers/federation.ts';

/** What `fedtune worker ARGS` asks runVirtualSites for (nothing runs; every site "completes"). */
async function asked(args: string[]): Promise<RunVirtualSitesOptions> {
  let seen: RunVirtualSitesOptions | undefined;
  const command = workerCommand({
    runVirtualSites: (options) => {
      seen = options;
      return [Promise.resolve({ siteId: 'v-00000', completed: true, roundsTrained: 0 })];
    },
  });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await command.parseAsync(['--server', 'http://127.0.0.1:9', ...args], { from: 'user' });
  } finally {
    log.mockRestore();
    process.exitCode = undefined;
  }
  return seen!;
}

describe('fedtune worker: flags → virtual sites', () => {
  it.each([
    [['--virtual-sites', '3-7'], (o: RunVirtualSitesOptions) => expect(o.range).toEqual({ first: 3, last: 7 })],
    [['--virtual-sites', '0-1', '--seed', '7'], (o: RunVirtualSitesOptions) => expect(o.sites.spec.seed).toBe(7)],
    [['--virtual-sites', '0-1'], (o: RunVirtualSitesOptions) => expect(o.sites.spec).toEqual({ seed: 42, examples: 40, alpha: 0.5, featureShift: true })],
    [['--virtual-sites', '0-1', '--site-examples', '25'], (o: RunVirtualSitesOptions) => expect(o.sites.spec.examples).toBe(25)],
    [['--virtual-sites', '0-1', '--partition', 'iid'], (o: RunVirtualSitesOptions) => expect(o.sites.spec.alpha).toBeUndefined()],
    [['--virtual-sites', '0-1', '--partition', 'dirichlet:0.3'], (o: RunVirtualSitesOptions) => expect(o.sites.spec.alpha).toBe(0.3)],
    [['--virtual-sites', '0-1', '--no-feature-shift'], (o: RunVirtualSitesOptions) => expect(o.sites.spec.featureShift).toBe(false)],
    [['--virtual-sites', '0-1', '--token', 'sekrit'], (o: RunVirtualSitesOptions) => expect(o.token).toBe('sekrit')],
    [['--virtual-sites', '0-1', '--backend', 'cpu'], (o: RunVirtualSitesOptions) => expect(o.backend).toBe('cpu')],
    [['--virtual-sites', '0-1', '--backend', 'wasm'], (o: RunVirtualSitesOptions) => expect(o.backend).toBe('wasm')],
    // The only task (its refusal of another: below); the row says the sites are the digits' virtual sites.
    [['--virtual-sites', '0-1', '--task', 'digits'], (o: RunVirtualSitesOptions) => expect(o.sites.spec).toMatchObject({ examples: 40 })],
  ])('%j', async (args, check) => {
    check(await asked(args));
  });

  it('every option the command declares has a row above (a new flag without one fails here)', () => {
    const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    for (const option of workerCommand().options) expect(source, `${option.long} has a row`).toContain(`'${option.long}'`);
  });
});

describe('fedtune worker (CLI, real socket.io)', () => {
  it('hosts 20 virtual sites of a coordinator sized for them: the run completes, each update weighs its 16 train digits', async () => {
    const backend = await selectNodeBackend();
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 100),
      backend: backend.backend,
      transport: 'socket',
      host: '127.0.0.1',
      config: { runId: 'worker-cli', rounds: 1, minSites: 20, fraction: 0.1, seed: 7, sitesKeepModel: false, maxEvaluationSites: 3, robustness: { when: 'never' }, roundTimeoutMs: 120_000, joinTimeoutMs: 120_000 },
    });
    try {
      const run = fedtune(['worker', '--server', coordinator.url!, '--virtual-sites', '0-19', '--site-examples', '20', '--seed', '7', '--partition', 'iid']);
      const [report, exit] = await Promise.all([coordinator.done, run.done]);
      expect(exit.stderr).toBe('');
      expect(exit.code).toBe(0);
      expect(exit.stdout).toContain('worker: 20 virtual sites v-00000 … v-00019');
      expect(exit.stdout).toContain('site data: resample:20');
      expect(exit.stdout).toMatch(/worker done: 20\/20 sites completed the run .*; 2 fits and 3 evaluations here; 5 site datasets made, at most \d at once, 0 left/);
      expect(report.status).toBe('complete');
      expect(report.rounds[0].selected).toHaveLength(2);
      expect(report.rounds[0].accepted.map((a) => a.numExamples)).toEqual([16, 16]);
    } finally {
      await coordinator.close();
    }
  }, 300_000);

  it.each([
    [['--virtual-sites', '9-3'], 'virtual sites take A-B'],
    [['--virtual-sites', '0-3', '--site-examples', '5'], 'site-examples'],
    [['--virtual-sites', '0-3', '--partition', 'shards:2'], 'not shards'],
    [['--virtual-sites', '0-3', '--task', 'spam'], 'task'],
    [[], "required option '--virtual-sites <A-B>'"],
  ])('%j is one clear line', async (args, message) => {
    const exit = await fedtune(['worker', '--server', 'http://127.0.0.1:9', ...args]).done;
    expect(exit.code).not.toBe(0);
    expect(exit.stderr).toContain(message);
    expect(exit.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
