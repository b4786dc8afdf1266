import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { readModelText, pretrainedSpamModelDir, type createCoordinatorServer, type RunInputs, type startCoordinator } from '@fedtune/coordinator';
import type { runNodeSite } from '@fedtune/client-node';
import { builtinSpam } from '@fedtune/shared/node';
import { splitTextDataset, TextTokenizer, vocabularyOfTextSection, type RunReport, type TextDataset } from '@fedtune/shared';
import { coordinatorCommand } from '../../cli/src/commands/coordinator-command.ts';
import { clientCommand } from '../../cli/src/commands/client-command.ts';
import { SPAM_SIMULATION_SETTINGS } from '../../cli/src/tasks/spam-task-plan.ts';
import { tempDir } from '../helpers/federation.ts';
import { mkdirSync, writeFileSync } from 'node:fs';

/** What startCoordinator was given, with the model and holdout its `load` gives. */
type StartOptions = Parameters<typeof startCoordinator>[0] & Partial<RunInputs>;
type Started = Parameters<typeof startCoordinator>[0] & RunInputs;
type ServerOptions = Parameters<typeof createCoordinatorServer>[0];

async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  try {
    return await run();
  } finally {
    console.log = log;
  }
}

/** `fedtune coordinator ARGV` with recording stand-ins: what it would start or serve. */
async function coordinator(argv: string[]): Promise<{ started?: Started; served?: ServerOptions }> {
  const dir = tempDir();
  let started: Started | undefined;
  let served: ServerOptions | undefined;
  const report = { runId: 'recorded', status: 'complete', rounds: [] } as unknown as RunReport;
  const command: Command = coordinatorCommand({
    startCoordinator: (async (o: StartOptions) => {
      // A run loads its model and holdout after listening (o.load): record what it would load.
      started = (o.load ? { ...o, ...(await o.load()) } : o) as Started;
      o = started;
      (o.model as { dispose(): void }).dispose();
      return { runId: 'recorded', url: 'http://127.0.0.1:1', runDir: join(dir, 'recorded'), engine: { report, termsGate: { signed: { hash: 'recorded' } } }, coordinatorKey: 'recorded', exposure: () => undefined, requestStop: () => {}, done: Promise.resolve(report), close: async () => {} };
    }) as unknown as typeof startCoordinator,
    createCoordinatorServer: ((o: ServerOptions) => {
      served = o;
      // Ctrl-C once the command waits for it: only its own listener is called (not the test runner's).
      const before = process.listeners('SIGINT');
      const timer = setInterval(() => {
        const added = process.listeners('SIGINT').filter((l) => !before.includes(l));
        if (added.length === 0) return;
        clearInterval(timer);
        for (const l of added) {
          process.removeListener('SIGINT', l);
          (l as () => void)();
        }
      }, 10);
      return { listen: async () => 'http://127.0.0.1:1', exposure: () => undefined, identity: { publicKey: 'k' }, close: async () => {} };
    }) as unknown as typeof createCoordinatorServer,
  });
  command.exitOverride();
  const signals = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  await quietly(() => command.parseAsync(['--out', join(dir, 'runs'), ...argv], { from: 'user' }));
  for (const s of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(s)) if (!signals[s].includes(l)) process.removeListener(s, l as () => void);
  return { started, served };
}

describe('fedtune coordinator --task', () => {
  const text = readModelText(pretrainedSpamModelDir())!;

  it('spam with a --model directory that has no vocab.json: refused before listening, naming the directory', async () => {
    const dir = tempDir();
    for (const f of ['model.json', 'weights.bin']) copyFileSync(join(pretrainedSpamModelDir(), f), join(dir, f));
    await expect(coordinator(['--task', 'spam', '--model', dir])).rejects.toMatchObject({ code: 'config', message: `--task spam needs a text model: ${dir} has no vocab.json (a text model's directory holds model.json, weights.bin and vocab.json)` });
    // With its vocabulary it starts.
    copyFileSync(join(pretrainedSpamModelDir(), 'vocab.json'), join(dir, 'vocab.json'));
    expect((await coordinator(['--task', 'spam', '--model', dir])).started).toBeDefined();
  });

  it('spam: the committed text-cnn with its vocabulary, the spam holdout as token ids, the text robustness and the task settings', async () => {
    const { started } = await coordinator(['--task', 'spam']);
    expect(started!.architecture).toBe('text-cnn');
    expect(started!.text).toEqual(text);
    const holdout = new TextTokenizer(vocabularyOfTextSection(text)).toDataset(builtinSpam().holdout);
    expect(started!.holdout.featureShape).toEqual([128]);
    expect(Array.from(started!.holdout.x)).toEqual(Array.from(holdout.x));
    expect(Array.from(started!.holdout.y)).toEqual(Array.from(holdout.y));
    expect(typeof started!.textRobustness).toBe('function');
    const config = started!.config as { rounds: number; train: { epochs: number; batchSize: number; learningRate: number }; robustness: Record<string, unknown> };
    expect(config.rounds).toBe(SPAM_SIMULATION_SETTINGS.rounds);
    expect(config.train).toMatchObject(SPAM_SIMULATION_SETTINGS.train!);
    expect(config.robustness).toMatchObject({ noise: false, corruptions: false, fgsm: false, pgd: false });
    expect(config.robustness.headlineEps).toBeUndefined();
  });

  it('flags override the task settings (--rounds, --epochs)', async () => {
    const config = (await coordinator(['--task', 'spam', '--rounds', '1', '--epochs', '2'])).started!.config as { rounds: number; train: { epochs: number; batchSize: number } };
    expect([config.rounds, config.train.epochs, config.train.batchSize]).toEqual([1, 2, 16]);
  });

  it('digits (the default): the mlp, no vocabulary, no text robustness, the headline ε', async () => {
    for (const argv of [[], ['--task', 'digits']]) {
      const { started } = await coordinator(argv);
      expect(started!.architecture).toBe('mlp');
      expect(started!.text).toBeUndefined();
      expect(started!.textRobustness).toBeUndefined();
      expect(started!.holdout.featureShape).not.toEqual([128]);
      expect((started!.config as { robustness: { headlineEps?: unknown } }).robustness.headlineEps).toBeDefined();
    }
  });

  it('an unknown task is refused by the parser', async () => {
    await expect(coordinator(['--task', 'faces'])).rejects.toThrow(/--task.*faces|Allowed choices are digits, spam/);
  });

  it('--serve-only --task spam serves the vocabulary and the text robustness to every run it starts', async () => {
    const { served } = await coordinator(['--task', 'spam', '--serve-only']);
    expect(served!.text).toEqual(text);
    expect(served!.architecture).toBe('text-cnn');
    expect(typeof served!.textRobustness).toBe('function');
  });

  it('--model DIR with a vocab.json sends that vocabulary', async () => {
    const { started } = await coordinator(['--model', pretrainedSpamModelDir(), '--holdout', writeHoldout()]);
    expect(started!.architecture).toBe('custom');
    expect(started!.text).toEqual(text);
    expect(started!.textRobustness).toBeUndefined();
  });
});

function writeHoldout(): string {
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'holdout.csv');
  writeFileSync(file, `label,${Array.from({ length: 128 }, (_, i) => `t${i}`).join(',')}\n${[0, 1].map((y) => [y, ...new Array(128).fill(2)].join(',')).join('\n')}\n`);
  return file;
}

/** `fedtune client ARGV` with a recording runNodeSite: the data it would join with. */
async function client(argv: string[]): Promise<Parameters<typeof runNodeSite>[0]> {
  let site: Parameters<typeof runNodeSite>[0] | undefined;
  const command = clientCommand({
    runNodeSite: (async (o: Parameters<typeof runNodeSite>[0]) => {
      site = o;
      return { completed: true, runId: 'recorded', roundsTrained: 0, complete: { rounds: 1 } };
    }) as unknown as typeof runNodeSite,
  });
  command.exitOverride();
  await quietly(() => command.parseAsync(['--server', 'http://127.0.0.1:1', '--site', 'mail-1', '--privacy-ledger', join(tempDir(), 'l.jsonl'), ...argv], { from: 'user' }));
  return site!;
}

describe('fedtune client on text data', () => {
  const folder = () => {
    const dir = tempDir();
    for (const [name, texts] of [['ham', ['see you at noon', 'see you at noon', 'minutes attached']], ['spam', ['win money now', 'cheap pills']]] as const) {
      mkdirSync(join(dir, name), { recursive: true });
      texts.forEach((t, i) => writeFileSync(join(dir, name, `${i}.txt`), t));
    }
    return dir;
  };

  it('joins with the raw texts (tokenized later, with the vocabulary the model brings)', async () => {
    const data = (await client(['--data', folder()])).data as TextDataset;
    expect(data.texts).toHaveLength(5);
    expect(data.classNames).toEqual(['ham', 'spam']);
    expect(Array.from(data.labels)).toEqual([0, 0, 0, 1, 1]);
  });

  it('a CSV with --text-column joins with its texts', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'mail.csv'), 'label,body\nham,"see you, at noon"\nspam,win money now\n');
    const data = (await client(['--data', join(dir, 'mail.csv'), '--text-column', 'body'])).data as TextDataset;
    expect(data.texts).toEqual(['see you, at noon', 'win money now']);
  });

  it('--drop-duplicates drops repeated (text, label) pairs', async () => {
    const data = (await client(['--data', folder(), '--drop-duplicates'])).data as TextDataset;
    expect(data.texts).toHaveLength(4);
    expect(Array.from(data.labels)).toEqual([0, 0, 1, 1]);
    expect(data.texts.filter((t) => t === 'see you at noon')).toHaveLength(1);
  });

  it('--impute on texts drops the empty and missing ones (nothing to fill a text with); without it they stay', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'mail.csv'), 'label,body\nham,hello there\nspam,\nham,NA\nspam,win now\nham,  \nspam,cheap pills\n');
    const csv = ['--data', join(dir, 'mail.csv'), '--text-column', 'body'];
    expect(((await client(csv)).data as TextDataset).texts).toHaveLength(6);
    for (const method of ['mean', 'zero']) {
      const data = (await client([...csv, '--impute', method])).data as TextDataset;
      expect(data.texts).toEqual(['hello there', 'win now', 'cheap pills']);
      expect(Array.from(data.labels)).toEqual([0, 1, 1]);
    }
    writeFileSync(join(dir, 'empty.csv'), 'label,body\nham,\nspam,?\n');
    await expect(client(['--data', join(dir, 'empty.csv'), '--text-column', 'body', '--impute', 'zero'])).rejects.toThrow(/every text is empty or missing: nothing left to train on/);
  });

  it('--class-weights balanced resamples the train texts to equal class shares at join (same count)', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const rows = Array.from({ length: 50 }, (_, i) => (i < 40 ? `ham,note ${i}` : `spam,offer ${i}`));
    writeFileSync(join(dir, 'mail.csv'), `label,body\n${rows.join('\n')}\n`);
    const csv = ['--data', join(dir, 'mail.csv'), '--text-column', 'body'];
    expect((await client(csv)).prepareTextSplits).toBeUndefined();
    const site = await client([...csv, '--class-weights', 'balanced']);
    const texts = site.data as TextDataset;
    const splits = splitTextDataset(texts, site.splitSeed!);
    const balanced = site.prepareTextSplits!(splits);
    const counts = [0, 0];
    for (const y of balanced.train.labels) counts[y]!++;
    expect(balanced.train.texts).toHaveLength(splits.train.texts.length);
    expect(Math.abs(counts[0]! - counts[1]!)).toBeLessThanOrEqual(1);
    // Each picked text keeps its own label; validation and test stay as they are.
    balanced.train.texts.forEach((t, i) => expect(balanced.train.labels[i]).toBe(t.startsWith('offer') ? 1 : 0));
    expect(balanced.validation).toBe(splits.validation);
    expect(balanced.test).toBe(splits.test);
  });

  it('--check-only reads and checks the texts and does not join', async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    let joined = false;
    try {
      const command = clientCommand({ runNodeSite: (async () => ((joined = true), { completed: true })) as unknown as typeof runNodeSite });
      command.exitOverride();
      await command.parseAsync(['--site', 'mail-1', '--data', folder(), '--check-only'], { from: 'user' });
    } finally {
      console.log = log;
    }
    expect(joined).toBe(false);
    expect(lines).toContain('data check: 5 texts, labels [3,2] per class');
  });
});
