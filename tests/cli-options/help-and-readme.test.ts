import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_DIGITS_HOLDOUTS, loadModelDir, parseRunConfigText, pretrainedArchitectures, pretrainedModelDir } from '@fedtune/coordinator';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { sweepCommand } from '../../cli/src/commands/sweep-command.ts';
import { head } from '../helpers/federation.ts';
import { DEFAULT_EPSILONS, DEFAULT_NOISE_SIGMAS, digitsHeadlineEps, evaluateRobustness, getStrategy, partitionKinds, strategyAliases, strategyNames, TEXT_ROBUSTNESS_DEFAULTS } from '@fedtune/shared';
import { simulateCommand } from '../../cli/src/commands/simulate-command.ts';
import { coordinatorCommand } from '../../cli/src/commands/coordinator-command.ts';
import { clientCommand } from '../../cli/src/commands/client-command.ts';
import { defaultAttackEpsText, evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';
import { partitionCommand } from '../../cli/src/commands/partition-command.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const help = (text: string) => text.replace(/\s+/g, ' ');

describe('one command line: the same flags, names and defaults everywhere', () => {
  it('coordinator takes the strategy flags simulate takes', () => {
    const coordinator = coordinatorCommand().options.map((o) => o.long);
    for (const flag of ['--strategy', '--strategy-opt', '--max-update-norm', '--expected-malicious', '--max-examples', '--robustness-examples']) expect(coordinator).toContain(flag);
    const simulate = simulateCommand().options.map((o) => o.long);
    for (const flag of ['--round-timeout', '--min-sites', '--config', '--expected-malicious']) expect(simulate).toContain(flag);
  });

  it.each([
    ['simulate', simulateCommand],
    ['coordinator', coordinatorCommand],
  ])('%s --help lists the registry\'s stable strategy names, the ones errors list', (_, make) => {
    const m = /--strategy <name> aggregation strategy: ([a-z, -]+?) \(default/.exec(help(make().helpInformation()));
    expect(m, 'help describes --strategy').not.toBeNull();
    expect(m![1].split(', ')).toEqual([...strategyNames]);
    for (const alias of Object.keys(strategyAliases)) expect(m![1].split(', ')).not.toContain(alias);
    expect(() => getStrategy('nope')).toThrow(`(known: ${strategyNames.join(', ')})`);
  });

  it.each([
    ['simulate', simulateCommand],
    ['coordinator', coordinatorCommand],
  ])('%s --help: --robustness-examples also bounds the spam task\'s holdout e-mails (with their default)', (_, make) => {
    expect(help(make().helpInformation())).toContain(`--task spam: the holdout e-mails its text robustness evaluates (default ${TEXT_ROBUSTNESS_DEFAULTS.examples})`);
  });

  it('client --help: --check-only shows what --drop-duplicates, --impute and --class-weights do; they act on texts too', () => {
    const text = help(clientCommand().helpInformation());
    expect(text).toMatch(/--check-only print the data check, with what --drop-duplicates, --impute and --class-weights do to this data/);
    expect(text).toMatch(/--class-weights <mode> balanced: resample the train split \(examples or texts\) .*the data check \(and --check-only\) shows the counts before and after and the class weights/);
    expect(text).toMatch(/--impute <method> .*text data: any method drops empty or missing texts/);
  });

  it('evaluate --help shows the lists a default stands for, never "(default: true)"', () => {
    const text = help(evaluateCommand().helpInformation());
    expect(text).not.toContain('(default: true)');
    expect(text).toContain(`(default: ${DEFAULT_NOISE_SIGMAS.join(',')})`);
    expect(text).toContain(`(default: ${defaultAttackEpsText()})`);
  });

  it('evaluate --help says the ε FGSM and PGD run at by default: the list, and on each built-in holdout the list with its headline ε (0.06 on the scanned digits)', async () => {
    const text = help(evaluateCommand().helpInformation());
    for (const flag of ['--fgsm', '--pgd']) {
      const m = new RegExp(`${flag} <list> .*?\\(default: ([^)]*)\\)`).exec(text);
      expect(m, flag).not.toBeNull();
      expect(m![1]).toBe(`${DEFAULT_EPSILONS.join(',')}; with a built-in holdout, its headline ε added: digits-holdout-scanned 0.05,0.06,0.1,0.2,0.3; digits-holdout-clean 0.05,0.1,0.2,0.3`);
    }
    // What the evaluation itself runs on the scanned holdout with the default lists: the ε the help names.
    await selectNodeBackend('cpu');
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    try {
      const report = await evaluateRobustness(model, head(builtinDigits().holdout, 8), { examples: 8, adversarialExamples: 2, noise: false, corruptions: false, pgdSteps: 1, attackLosses: ['ce'], headlineEps: digitsHeadlineEps(BUILTIN_DIGITS_HOLDOUTS['digits-holdout-scanned']) });
      const scanned = /digits-holdout-scanned ([0-9.,]+)/.exec(defaultAttackEpsText())![1];
      expect(report.fgsm.map((a) => a.eps).join(',')).toBe(scanned);
      expect(report.pgd.map((a) => a.eps).join(',')).toBe(scanned);
      expect(report.headlineEps).toBe(0.06);
    } finally {
      model.dispose();
    }
  }, 120_000);

  it.each([
    ['sweep', sweepCommand],
    ['simulate', simulateCommand],
    ['coordinator', coordinatorCommand],
  ])('%s --help lists every architecture --arch can start from (the committed checkpoints), not a hand-kept list', (_, make) => {
    const text = help(make().helpInformation());
    expect(pretrainedArchitectures()).toEqual(['cnn', 'cnn-bn', 'cnn-dense', 'cnn-wide', 'mlp']);
    expect(text).toMatch(new RegExp(`--arch <name> [^(]*\\(${pretrainedArchitectures().join(', ')}[;:)]`));
  });

  it.each([
    ['partition', partitionCommand],
    ['simulate', simulateCommand],
  ])('%s --help lists every partition kind, shards included', (_, make) => {
    const text = help(make().helpInformation());
    expect(partitionKinds()).toContain('shards:K');
    for (const kind of partitionKinds()) expect(text).toContain(kind);
  });
});

describe('the README', () => {
  it('the separate-process example starts as many clients as the coordinator waits for, one per partition file', () => {
    const lines = README.split('\n');
    const start = lines.findIndex((l) => l.includes('npx fedtune partition --task digits'));
    expect(start).toBeGreaterThan(-1);
    const block = lines.slice(start, lines.findIndex((l, i) => i > start && l.trim() === ''));
    const sites = Number(/--sites (\d+)/.exec(block[0])![1]);
    const minSites = Number(/--min-sites (\d+)/.exec(block.find((l) => l.includes('fedtune coordinator'))!)![1]);
    const clients = block.filter((l) => l.includes('fedtune client'));
    expect(minSites).toBe(sites);
    expect(clients).toHaveLength(minSites);
    const names = clients.map((l) => /--site (\S+)/.exec(l)![1]);
    const data = clients.map((l) => /--data (\S+)/.exec(l)![1]);
    expect(new Set(names).size).toBe(clients.length);
    expect(new Set(data).size).toBe(clients.length);
  });

  it('names strategies by their stable names in its commands', () => {
    const named = [...README.matchAll(/fedtune [a-z]+ .*--strategy ([a-z-]+)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThanOrEqual(2);
    for (const name of named) expect(strategyNames).toContain(name);
  });

  it('the model-loading snippet runs with plain @tensorflow/tfjs (no tfjs-node) and loads a saved model', () => {
    expect(README).not.toMatch(/file:\/\//);
    const m = /```js\n(import \* as tf from '@tensorflow\/tfjs';[\s\S]*?)```/.exec(README);
    expect(m, 'README has the snippet').not.toBeNull();
    const snippet = m![1].replace("'runs/<run-id>/models/round-10'", JSON.stringify(pretrainedModelDir('mlp')));
    expect(snippet).not.toBe(m![1]);
    // Run from the repository root, where a user's project would resolve @tensorflow/tfjs.
    const file = join(ROOT, `.readme-snippet-${process.pid}.mjs`);
    writeFileSync(file, `${snippet}\nconsole.log('prediction', model.predict(tf.zeros([1, 784])).shape.join('x'));\n`);
    try {
      const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('prediction 1x10');
      expect(r.stdout).toMatch(/Total params/);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('keeps exactly two setup commands', () => {
    const setup = /## [^\n]*\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(README)![1].trim().split('\n');
    expect(setup.map((l) => l.split('#')[0].trim())).toEqual(['npm install && npm start', 'npm test']);
  });
});

describe('docs/operations.md', () => {
  it('its run.yaml example is a valid config whose strategy accepts its options', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const yaml = /```yaml\n(# run\.yaml[\s\S]*?)```/.exec(docs)![1];
    const file = parseRunConfigText(yaml, 'run.yaml');
    const strategy = getStrategy(file.values.strategy!);
    expect(() => strategy.initialState(file.values.strategyOptions)).not.toThrow();
  });
});

describe('what the README\'s commands write is ignored by git', () => {
  /** The .gitignore entries for the top of the checkout: `/name`, `/name/`, `name/` or `name`. */
  const ignored = new Set(
    readFileSync(join(ROOT, '.gitignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))
      .map((l) => l.replace(/^\//, '').replace(/\/$/, '')),
  );

  it('every relative path a README command line writes (--out, --log-file, --audit-log, --personal-model, > FILE) starts with an ignored name', () => {
    const written = new Set<string>();
    for (const line of README.split('\n')) {
      if (!/^\s*(npx fedtune|curl|npm run)/.test(line)) continue;
      const code = line.split(' # ')[0];
      for (const m of code.matchAll(/(?:--out|--log-file|--audit-log|--personal-model|--privacy-ledger) ([^\s\]]+)| > ([^\s\]-][^\s\]]*)/g)) {
        const path = m[1] ?? m[2];
        if (path.startsWith('/') || /^[A-Z]+$/.test(path)) continue; // an absolute path or a placeholder (DIR)
        written.add(path.split('/')[0]);
      }
    }
    expect([...written].sort()).toEqual(['audit.jsonl', 'coordinator.jsonl', 'data', 'eval.json', 'mine', 'my-mlp', 'runs', 'site-1.audit.jsonl', 'sweeps']);
    for (const name of written) expect(ignored, name).toContain(name);
  });
});
