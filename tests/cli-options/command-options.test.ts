import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { defaultPrivacyLedgerPath, FilePrivacyLedger, loadSiteData, MAX_TRAINING_WORKERS, siteSplitSeed, type runNodeSite } from '@fedtune/client-node';
import { missingPretrainedModelError, pretrainedModelDir, type RunConfig, type RunInputs, type startCoordinator, type createCoordinatorServer } from '@fedtune/coordinator';
import { builtinDigits } from '@fedtune/shared/node';
import { robustPreset, type Dataset, type RunReport } from '@fedtune/shared';
import { simulateCommand, simulationOptionsFromCommand } from '../../cli/src/commands/simulate-command.ts';
import { coordinatorCommand } from '../../cli/src/commands/coordinator-command.ts';
import { clientCommand } from '../../cli/src/commands/client-command.ts';
import { serveClusterNode, type ClusterNodeCommand } from '../../cli/src/commands/cluster-node.ts';
import { RUN_CONFIG_FLAGS } from '../../cli/src/commands/run-config-flags.ts';
import { planSimulation, runSimulation, simulationRunConfig, type SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';
import { parseOnly } from './parse-command.ts';
import { siteDataFlagRows } from '../site-data/site-data-flag-rows.ts';
import { startTinyCoordinator } from '../access/helpers.ts';

/**
 * Every option of `simulate`, `coordinator` and `client` that is not a run-config flag (those are in
 * run-config-flags.test.ts) has a row here with a concrete check that a non-default value reaches what uses
 * it: the commands run their real actions with the function they end in (startCoordinator,
 * createCoordinatorServer, runNodeSite, runSimulation) replaced by one that records its arguments, or
 * for simulate, the federation it would build (planSimulation) or a small real run. The commands' option
 * lists are walked, so a new option without a row fails.
 */

const runConfigFlagNames = RUN_CONFIG_FLAGS.map((f) => f.flags.split(' ')[0]);
const ownFlags = (command: Command) => command.options.map((o) => o.long!).filter((f) => !runConfigFlagNames.includes(f));

const dir = tempDir();
const logs: string[] = [];
beforeAll(() => {
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args.join(' ')));
  vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void logs.push(args.join(' ')));
});
afterAll(() => vi.restoreAllMocks());

/** A CSV of `rows` examples with 784 features and the label in column `labelColumn`. */
function digitsCsv(name: string, rows: number, labelColumn = 'label'): string {
  const path = join(dir, name);
  const header = [labelColumn, ...Array.from({ length: 784 }, (_, i) => `p${i}`)].join(',');
  const lines = Array.from({ length: rows }, (_, r) => [r % 10, ...Array.from({ length: 784 }, (_, i) => ((i * (r + 1)) % 7) / 7)].join(','));
  writeFileSync(path, `${header}\n${lines.join('\n')}\n`);
  return path;
}

/** A self-signed P-256 certificate and its key for localhost (openssl), as PEM files named after `name`. */
function selfSignedPem(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  return { cert, key };
}

/** Calls the SIGINT/SIGTERM listeners a command added (as Ctrl-C would), without signalling the process. */
async function pressCtrlC(before: { SIGINT: Function[]; SIGTERM: Function[] }): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const added = (['SIGINT', 'SIGTERM'] as const).flatMap((s) => process.listeners(s).filter((l) => !before[s].includes(l)));
    if (added.length) {
      for (const l of added) (l as () => void)();
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the command added no SIGINT listener');
}
const signalListeners = () => ({ SIGINT: [...process.listeners('SIGINT')], SIGTERM: [...process.listeners('SIGTERM')] });

// ---- coordinator -----------------------------------------------------------------------------------

/** What startCoordinator was given, with the model and holdout its `load` gives. */
type StartOptions = Parameters<typeof startCoordinator>[0] & Partial<RunInputs>;
type Started = Parameters<typeof startCoordinator>[0] & RunInputs;
type ServerOptions = Parameters<typeof createCoordinatorServer>[0];

/** Runs `fedtune coordinator ARGV` with recording stand-ins for the functions that serve. */
async function coordinator(argv: string[], options: { whileRunning?: () => Promise<void> } = {}) {
  let started: Started | undefined;
  let clustered: ClusterNodeCommand | undefined;
  let served: ServerOptions | undefined;
  const report = { runId: 'recorded', status: 'complete', rounds: [] } as unknown as RunReport;
  const command = coordinatorCommand({
    startCoordinator: (async (o: StartOptions) => {
      // A run loads its model and holdout after listening (o.load): record what it would load.
      started = (o.load ? { ...o, ...(await o.load()) } : o) as Started;
      return { runId: 'recorded', url: 'http://127.0.0.1:1', runDir: join(dir, 'recorded'), engine: { report, termsGate: { signed: { hash: 'recorded' } } }, coordinatorKey: 'recorded', exposure: () => undefined, requestStop: () => {}, done: Promise.resolve(report), close: async () => {} };
    }) as unknown as typeof startCoordinator,
    createCoordinatorServer: ((o: ServerOptions) => {
      served = o;
      return { listen: async () => 'http://127.0.0.1:1', exposure: () => undefined, identity: { publicKey: 'recorded' }, close: async () => {} };
    }) as unknown as typeof createCoordinatorServer,
    serveClusterNode: async (o) => {
      clustered = o;
    },
  });
  command.exitOverride();
  const before = signalListeners();
  const done = command.parseAsync(['--out', join(dir, 'runs'), ...argv], { from: 'user' });
  if (options.whileRunning) await options.whileRunning();
  await done;
  if (options.whileRunning === undefined) for (const s of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(s)) if (!before[s].includes(l)) process.removeListener(s, l as () => void);
  return { started, served, clustered };
}

const COORDINATOR_ROWS: Record<string, () => Promise<void>> = {
  '--port': async () => {
    expect((await coordinator(['--port', '0'])).started!.port).toBe(0);
    expect((await coordinator([])).started!.port).toBe(8080);
  },
  '--host': async () => expect((await coordinator(['--host', '0.0.0.0'])).started!.host).toBe('0.0.0.0'),
  // --task spam: the text-cnn with its vocabulary, the spam holdout and the text robustness (tests/text/coordinator-task.test.ts).
  '--task': async () => {
    const spam = (await coordinator(['--task', 'spam'])).started!;
    expect([spam.architecture, spam.text?.sequenceLength, typeof spam.textRobustness]).toEqual(['text-cnn', 128, 'function']);
    const digits = (await coordinator([])).started!;
    expect([digits.architecture, digits.text, digits.textRobustness]).toEqual(['mlp', undefined, undefined]);
    // Text augmentation acts only on a text task's sites: on digits it would be ignored, so it is refused (as simulate does), flag or file.
    const refusal = { code: 'config', message: 'text augmentation (--text-augment, train.textAugmentation) needs a text task: --task spam, or a --model directory with a vocab.json' };
    await expect(coordinator(['--text-augment', '1:0.1'])).rejects.toMatchObject(refusal);
    const augmentFile = join(dir, 'text-augment.yaml');
    writeFileSync(augmentFile, 'train:\n  textAugmentation: { copies: 1, rate: 0.1 }\n');
    await expect(coordinator(['--config', augmentFile])).rejects.toMatchObject(refusal);
    expect((await coordinator(['--task', 'spam', '--text-augment', '1:0.1'])).started!.config?.train?.textAugmentation).toEqual({ copies: 1, rate: 0.1 });
  },
  '--out': async () => {
    const out = join(dir, 'elsewhere');
    const { started } = await coordinator(['--out', out]);
    expect(started!.runsDir).toBe(out);
    expect(existsSync(join(out, 'fedtune.db')), 'the site registry defaults to <out>/fedtune.db').toBe(true);
  },
  '--serve': async () => {
    logs.length = 0;
    const before = signalListeners();
    await coordinator(['--serve'], {
      whileRunning: async () => {
        await vi.waitFor(() => expect(logs.join('\n')).toMatch(/run complete; serving the API/));
        await pressCtrlC(before);
      },
    });
    // SIGTERM alone (a service manager's stop) ends the serving too, not only Ctrl-C.
    logs.length = 0;
    const again = signalListeners();
    await coordinator(['--serve'], {
      whileRunning: async () => {
        await vi.waitFor(() => expect(logs.join('\n')).toMatch(/run complete; serving the API .*\(Ctrl-C or SIGTERM to stop\)/));
        for (const l of process.listeners('SIGTERM').filter((l) => !again.SIGTERM.includes(l))) (l as () => void)();
      },
    });
    for (const s of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(s)) if (!again[s].includes(l)) process.removeListener(s, l as () => void);
  },
  '--serve-only': async () => {
    const before = signalListeners();
    const { started, served } = await coordinator(['--serve-only'], { whileRunning: () => pressCtrlC(before) });
    expect(started).toBeUndefined();
    expect(served!.runsDir).toBe(join(dir, 'runs'));
    // No run starts, so a run's flag would do nothing: refused, naming it.
    await expect(coordinator(['--serve-only', '--rounds', '3'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--serve-only starts no run, so --rounds has no effect') });
  },
  '--arch': async () => {
    const { started } = await coordinator(['--arch', 'cnn']);
    expect(started!.architecture).toBe('cnn');
    expect(started!.model.layers.some((l) => l.getClassName() === 'Conv2D')).toBe(true);
    // Where the architecture comes from elsewhere, --arch would do nothing: refused, as simulate refuses it.
    await expect(coordinator(['--task', 'spam', '--arch', 'cnn'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--arch has no effect with --task spam') });
    await expect(coordinator(['--model', pretrainedModelDir('cnn'), '--arch', 'mlp'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--arch has no effect with --model') });
  },
  '--model': async () => {
    const { started } = await coordinator(['--model', pretrainedModelDir('cnn')]);
    expect(started!.architecture).toBe('custom');
    expect(started!.model.layers.some((l) => l.getClassName() === 'Conv2D')).toBe(true);
  },
  '--holdout': async () => {
    const { started } = await coordinator(['--holdout', digitsCsv('holdout.csv', 12)]);
    expect(started!.holdout.y.length).toBe(12);
    expect(started!.holdout.y.length).not.toBe(builtinDigits().holdout.y.length);
  },
  '--label-column': async () => {
    const csv = digitsCsv('holdout-y.csv', 5, 'digit');
    await expect(coordinator(['--holdout', csv])).rejects.toThrow(/label/);
    const { started } = await coordinator(['--holdout', csv, '--label-column', 'digit']);
    expect(Array.from(started!.holdout.y)).toEqual([0, 1, 2, 3, 4]);
    // The holdout's CSV flags without a CSV holdout would do nothing: refused.
    for (const argv of [['--label-column', 'digit'], ['--feature-columns', 'a,b'], ['--impute', 'median']]) {
      await expect(coordinator(argv), argv.join(' ')).rejects.toMatchObject({ code: 'config', message: expect.stringContaining(`${argv[0]} reads the holdout CSV: it needs --holdout`) });
    }
  },
  '--feature-columns': async () => {
    // The holdout with an id and a quoted free-text column beside the 784 pixels: only the pixels are features.
    const pixels = Array.from({ length: 784 }, (_, i) => `p${i}`);
    const path = join(dir, 'holdout-extra.csv');
    const rows = Array.from({ length: 6 }, (_, r) => [r, `"note ${r}, scanned"`, r % 10, ...pixels.map((_, i) => ((i + r) % 5) / 5)].join(','));
    writeFileSync(path, `id,note,label,${pixels.join(',')}\n${rows.join('\n')}\n`);
    await expect(coordinator(['--holdout', path])).rejects.toThrow(/column "note" is not numeric/);
    const { started } = await coordinator(['--holdout', path, '--feature-columns', pixels.join(',')]);
    expect(started!.holdout.featureShape).toEqual([784]);
    expect(Array.from(started!.holdout.y)).toEqual([0, 1, 2, 3, 4, 5]);
  },
  '--impute': async () => {
    // A holdout with one missing pixel: refused by default (naming the flag), filled with the pixel's median over the holdout's other rows.
    const pixels = Array.from({ length: 784 }, (_, i) => `p${i}`);
    const path = join(dir, 'holdout-missing.csv');
    const rows = Array.from({ length: 6 }, (_, r) => [r % 10, r === 0 ? '' : r / 10, ...pixels.slice(1).map((_, i) => ((i + r) % 5) / 5)].join(','));
    writeFileSync(path, `label,${pixels.join(',')}\n${rows.join('\n')}\n`);
    await expect(coordinator(['--holdout', path])).rejects.toThrow(/missing values in "p0" \(1\): fill them \(--impute mean\|median\|zero\)/);
    const median = (await coordinator(['--holdout', path, '--impute', 'median'])).started!.holdout;
    expect(median.x[0]).toBeCloseTo(0.3, 6);
    expect(Array.from(median.x.subarray(784, 786))).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect((await coordinator(['--holdout', path, '--impute', 'zero'])).started!.holdout.x[0]).toBe(0);
  },
  '--backend': async () => {
    expect((await coordinator(['--backend', 'cpu'])).started!.backend).toBe('cpu');
    expect((await coordinator(['--backend', 'wasm'])).started!.backend).toBe('wasm');
    await expect(coordinator(['--backend', 'toString'])).rejects.toMatchObject({ code: 'config', message: 'unknown backend "toString" (use one of tfjs-node-gpu, tfjs-node, wasm, cpu)' });
  },
  '--resume': async () => {
    // The run's own settings come from its checkpoint: a run without one cannot be resumed, and says so.
    await expect(coordinator(['--resume', 'no-such-run'])).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('no-such-run') });
  },
  '--tls-cert': async () => {
    const { cert, key } = selfSignedPem('one');
    const { started } = await coordinator(['--tls-cert', cert, '--tls-key', key]);
    expect(started!.tls!.cert.toString()).toBe(readFileSync(cert, 'utf8'));
    await expect(coordinator(['--tls-cert', cert])).rejects.toThrow(/--tls-cert and --tls-key go together/);
    // A file that is not PEM: one config line naming the flag and the file (was `internal: error:0480006C:PEM routines::no start line`).
    const notPem = join(dir, 'not-a-cert.pem');
    writeFileSync(notPem, 'CERT');
    await expect(coordinator(['--tls-cert', notPem, '--tls-key', key])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(new RegExp(`^--tls-cert ${notPem} is not a PEM certificate \\([^\\n]+\\)$`)) });
  },
  '--tls-key': async () => {
    const { cert, key } = selfSignedPem('two');
    expect((await coordinator(['--tls-cert', cert, '--tls-key', key])).started!.tls!.key.toString()).toBe(readFileSync(key, 'utf8'));
    await expect(coordinator(['--tls-key', key])).rejects.toThrow(/go together/);
    const notPem = join(dir, 'not-a-key.pem');
    writeFileSync(notPem, 'KEY2');
    await expect(coordinator(['--tls-cert', cert, '--tls-key', notPem])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(new RegExp(`^--tls-key ${notPem} is not an unencrypted PEM private key \\([^\\n]+\\)$`)) });
    // Another certificate's key: the pair does not match.
    await expect(coordinator(['--tls-cert', cert, '--tls-key', selfSignedPem('three').key])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('does not match the certificate of --tls-cert') });
  },
  '--sites-db': async () => {
    const db = join(dir, 'registry.db');
    await coordinator(['--sites-db', db]);
    expect(existsSync(db)).toBe(true);
  },
  '--require-tokens': async () => {
    expect((await coordinator(['--require-tokens'])).started!.access!.requireTokens).toBe(true);
    expect((await coordinator([])).started!.access!.requireTokens).toBeUndefined();
  },
  '--no-require-tokens': async () => {
    expect((await coordinator(['--no-require-tokens'])).started!.access!.requireTokens).toBe(false);
    // Both: contradictory (commander kept the last one, silently).
    for (const argv of [['--require-tokens', '--no-require-tokens'], ['--no-require-tokens', '--require-tokens']]) {
      await expect(coordinator(argv)).rejects.toMatchObject({ code: 'config', message: '--require-tokens and --no-require-tokens contradict each other: give one' });
    }
  },
  '--hello-limit': async () => {
    expect((await coordinator(['--hello-limit', '5'])).started!.access!.hellosPerMinute).toBe(5);
    expect((await coordinator([])).started!.access!.hellosPerMinute).toBe(30);
  },
  '--open-join-limit': async () => {
    expect((await coordinator(['--open-join-limit', '5'])).started!.access!.openJoinsPerMinute).toBe(5);
    expect((await coordinator(['--open-join-limit', '0'])).started!.access!.openJoinsPerMinute).toBe(0);
    expect((await coordinator([])).started!.access!.openJoinsPerMinute).toBeUndefined();
  },
  '--api-rate': async () => expect((await coordinator(['--api-rate', '7'])).started!.apiRateLimit).toEqual({ ratePerSecond: 7, burst: 14 }),
  '--log-file': async () => expect((await coordinator(['--log-file', join(dir, 'c.jsonl')])).started!.logFile).toBe(join(dir, 'c.jsonl')),
  // Repeatable; each reaches what serves: a run, --serve-only's server and a cluster node (their effects: docs/access.md#limits's tests).
  '--connection-limit': async () => {
    const argv = ['--connection-limit', 'maxUnwelcomedPerAddress=4096', '--connection-limit', 'connectionsPerSecond=200', '--connection-limit', 'connectionsPerSecond=250'];
    const want = { maxUnwelcomedPerAddress: 4096, connectionsPerSecond: 250 };
    expect((await coordinator(argv)).started!.connectionLimits).toEqual(want);
    const before = signalListeners();
    expect((await coordinator(['--serve-only', ...argv], { whileRunning: () => pressCtrlC(before) })).served!.connectionLimits).toEqual(want);
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390', ...argv])).clustered!.server.connectionLimits).toEqual(want);
    const none = await coordinator([]);
    expect(none.started!.connectionLimits).toBeUndefined();
    await expect(coordinator(['--connection-limit', 'maxUnwelcomed=5'])).rejects.toThrow(/unknown connection limit "maxUnwelcomed": one of helloTimeoutMs, .*maxUnwelcomedPerAddress/);
    await expect(coordinator(['--connection-limit', 'frameBurst=0'])).rejects.toThrow(/frameBurst=0: /);
    await expect(coordinator(['--connection-limit', 'frameBurst=1.5'])).rejects.toThrow(/frameBurst=1\.5: /);
    await expect(coordinator(['--connection-limit', 'frameBurst='])).rejects.toThrow(/frameBurst=: /);
    await expect(coordinator(['--connection-limit', 'frameBurst'])).rejects.toThrow(/expected KEY=VALUE, got "frameBurst"/);
    await expect(coordinator(['--connection-limit', '=5'])).rejects.toThrow(/expected KEY=VALUE/);
  },
  '--cluster': async () => {
    const { started, clustered } = await coordinator(['--cluster', 'redis://127.0.0.1:6390', '--rounds', '4']);
    expect(started).toBeUndefined();
    expect(clustered!.redisUrl).toBe('redis://127.0.0.1:6390');
    expect(clustered!.config.rounds).toBe(4);
    expect(clustered!.server.runsDir).toBe(join(dir, 'runs'));
    expect((await coordinator([])).clustered).toBeUndefined();
    await expect(coordinator(['--cluster', 'redis://127.0.0.1:6390', '--serve-only'])).rejects.toThrow(/--cluster does not go with --serve-only or --resume/);
    await expect(coordinator(['--cluster', 'redis://127.0.0.1:6390', '--serve'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--serve does not go with --cluster') });
    // What the real node makes of a URL that is not Redis's: one clear config error, the model freed.
    let disposed = false;
    const model = { dispose: () => void (disposed = true) } as unknown as ClusterNodeCommand['model'];
    await expect(serveClusterNode({ ...clustered!, redisUrl: 'http://127.0.0.1:6390', model })).rejects.toThrow(/--cluster\/--node-id\/--cluster-leader-weight: redisUrl: expected redis:\/\/HOST:PORT/);
    expect(disposed).toBe(true);
  },
  '--node-id': async () => {
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390', '--node-id', 'n-7'])).clustered!.nodeId).toBe('n-7');
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390'])).clustered!.nodeId).toBeUndefined();
    await expect(coordinator(['--node-id', 'n-7'])).rejects.toThrow(/--node-id needs --cluster/);
    const model = { dispose: () => {} } as unknown as ClusterNodeCommand['model'];
    const clustered = (await coordinator(['--cluster', 'redis://127.0.0.1:6390']))!.clustered!;
    await expect(serveClusterNode({ ...clustered, nodeId: 'bad id!', model })).rejects.toThrow(/nodeId: node id may use letters/);
  },
  '--cluster-leader-weight': async () => {
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390', '--cluster-leader-weight', '0.4'])).clustered!.leaderWeight).toBe(0.4);
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390'])).clustered!.leaderWeight).toBeUndefined();
    await expect(coordinator(['--cluster-leader-weight', '0.4'])).rejects.toThrow(/--cluster-leader-weight needs --cluster/);
    await expect(coordinator(['--cluster', 'redis://127.0.0.1:6390', '--cluster-leader-weight', '1.5'])).rejects.toThrow(/cluster-leader-weight must be a number in \[0, 1\]/);
  },
  '--cluster-secret-file': async () => {
    const file = join(dir, 'cluster-secret');
    writeFileSync(file, `${'s'.repeat(32)}\n`);
    writeFileSync(`${file}-2`, `${'t'.repeat(32)}\n`); // the flag names a file that exists (missing-input-paths.test.ts)
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390', '--cluster-secret-file', file])).clustered!.secretFile).toBe(file);
    expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390'])).clustered!.secretFile).toBeUndefined();
    // Also from the environment (FEDTUNE_CLUSTER_SECRET_FILE); the flag wins.
    process.env.FEDTUNE_CLUSTER_SECRET_FILE = file;
    try {
      expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390'])).clustered!.secretFile).toBe(file);
      expect((await coordinator(['--cluster', 'redis://127.0.0.1:6390', '--cluster-secret-file', `${file}-2`])).clustered!.secretFile).toBe(`${file}-2`);
      await expect(coordinator([])).rejects.toThrow(/--cluster-secret-file \(or FEDTUNE_CLUSTER_SECRET_FILE\) needs --cluster/);
    } finally {
      delete process.env.FEDTUNE_CLUSTER_SECRET_FILE;
    }
    await expect(coordinator(['--cluster-secret-file', file])).rejects.toThrow(/needs --cluster/);
    // What the real node makes of a short secret: one clear config error before Redis, the model freed, the secret not shown.
    const short = join(dir, 'short-secret');
    writeFileSync(short, 'tooshort-secret');
    let disposed = false;
    const model = { dispose: () => void (disposed = true) } as unknown as ClusterNodeCommand['model'];
    const clustered = (await coordinator(['--cluster', 'redis://127.0.0.1:6390', '--cluster-secret-file', short])).clustered!;
    const err = await serveClusterNode({ ...clustered, model }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'config', message: `the cluster secret in ${short} is 15 bytes; at least 32 are needed (e.g. openssl rand -hex 32 > ${short})` });
    expect(disposed).toBe(true);
  },
};

describe('every coordinator option reaches what serves the run', () => {
  it('the table has a row for every option that is not a run-config flag', () => {
    expect(Object.keys(COORDINATOR_ROWS).sort()).toEqual(ownFlags(coordinatorCommand()).sort());
  });

  it.each(Object.keys(COORDINATOR_ROWS))('%s', async (flag) => COORDINATOR_ROWS[flag]());

  it('the run-config flags reach startCoordinator as the run config (--strategy, --strategy-opt, --max-update-norm included)', async () => {
    const { started } = await coordinator(['--strategy', 'multi-krum', '--strategy-opt', 'f=1', '--max-update-norm', '5', '--rounds', '3', '--expected-malicious', '1']);
    const config = started!.config as Record<string, unknown>;
    expect(config).toMatchObject({ strategy: 'multikrum', strategyOptions: { f: 1 }, maxUpdateNorm: 5, rounds: 3, expectedMaliciousSites: 1 });
  });
});

// ---- client -----------------------------------------------------------------------------------------

// The client command passes examples here (a TextDataset only for text data, tested in tests/text/text-site-cli-federation.test.ts).
type SiteOptions = Omit<Parameters<typeof runNodeSite>[0], 'data'> & { data: Dataset };

async function client(argv: string[]): Promise<SiteOptions> {
  let site: SiteOptions | undefined;
  const command = clientCommand({
    runNodeSite: (async (o: SiteOptions) => {
      site = o;
      return { completed: true, runId: 'recorded', roundsTrained: 0, complete: { rounds: 1 } };
    }) as unknown as typeof runNodeSite,
  });
  command.exitOverride();
  const given = (flag: string) => argv.includes(flag);
  await command.parseAsync([...(given('--server') || given('--check-only') ? [] : ['--server', 'http://127.0.0.1:1']), ...(given('--site') ? [] : ['--site', 'site-1']), ...(given('--data') ? [] : ['--data', 'digits:1/4']), ...argv], { from: 'user' });
  return site!;
}

/** `fedtune client --show-terms` against a real tiny coordinator: what it printed, whether it joined, its exit code. */
async function showTermsOf(argv: string[]): Promise<{ lines: string[]; site: SiteOptions | undefined; exitCode: number | string | undefined }> {
  const coordinator = await startTinyCoordinator({ runId: 'terms-cli' });
  // What it printed: the file-wide console spy's lines from here on (restoring a spy here would remove that one).
  const start = logs.length;
  const before = process.exitCode;
  try {
    const site = await client(['--show-terms', '--server', coordinator.url!, ...argv]);
    return { lines: logs.slice(start), site, exitCode: process.exitCode === before ? undefined : process.exitCode };
  } finally {
    process.exitCode = before;
    await coordinator.close();
  }
}

const CLIENT_ROWS: Record<string, () => Promise<void>> = {
  '--server': async () => {
    expect((await client(['--server', 'localhost:9'])).server).toBe('http://localhost:9');
    // The nodes of a cluster: a failover connector over them (tests/cluster/failover-connector.test.ts).
    expect(typeof (await client(['--server', 'localhost:9,localhost:10'])).server).toBe('object');
    // It offers the other nodes in its hello (site placement: a node above its share may send it on).
    expect(((await client(['--server', 'localhost:9,localhost:10,localhost:11'])).server as { alternatives?: number }).alternatives).toBe(2);
    await expect(client(['--server', 'localhost:9,ftp://x'])).rejects.toThrow(/server must be a URL/);
    await expect(client(['--server', ','])).rejects.toThrow(/one URL or 1–64 comma-separated URLs/);
  },
  '--site': async () => expect((await client(['--site', 'clinic-b'])).siteId).toBe('clinic-b'),
  '--data': async () => {
    const csv = digitsCsv('site.csv', 9);
    expect((await client(['--data', csv])).data.y.length).toBe(9);
    expect((await client(['--data', 'digits:2/4'])).data.y.length).toBe(loadSiteData('digits:2/4').y.length);
  },
  '--label-column': async () => {
    const csv = digitsCsv('site-y.csv', 4, 'digit');
    await expect(client(['--data', csv])).rejects.toThrow(/label/);
    expect(Array.from((await client(['--data', csv, '--label-column', 'digit'])).data.y)).toEqual([0, 1, 2, 3]);
    // The built-in digits have their labels: the flag would do nothing there.
    await expect(client(['--data', 'digits:2/4', '--label-column', 'digit'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--label-column reads a CSV: it has no effect') });
  },
  '--token': async () => {
    expect((await client(['--token', 'tok-123'])).token).toBe('tok-123');
    expect((await client([])).token).toBeUndefined();
  },
  '--ca': async () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'CA');
    // With a private CA the site connects through a connector that carries it, not a bare URL.
    const server = (await client(['--ca', ca, '--server', 'https://coord:8443'])).server;
    expect(typeof server).toBe('object');
    expect((await client(['--server', 'https://coord:8443'])).server).toBe('https://coord:8443');
    // Where it would verify nothing it is refused with one line (before 2026-12-07 an http:// server silently left it unused).
    await expect(client(['--ca', ca, '--server', 'http://coord:8080'])).rejects.toMatchObject({ code: 'config', message: '--ca is for https:// servers: http://coord:8080 is http://, so the CA would verify nothing (give the https:// URL, or drop --ca)' });
    await expect(client(['--ca', ca, '--server', 'coord:8080'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('http://coord:8080 is http://') });
    await expect(client(['--ca', ca, '--server', 'http://a:1,http://b:2'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('every --server is http:// (http://a:1, http://b:2)') });
    await expect(client(['--ca', ca, '--check-only'])).rejects.toMatchObject({ code: 'config', message: '--ca has no effect with --check-only: it checks the data and exits without connecting' });
    // A cluster that mixes them: the CA verifies its https:// nodes.
    expect(typeof (await client(['--ca', ca, '--server', 'http://a:1,https://b:2'])).server).toBe('object');
  },
  '--retries': async () => {
    expect((await client(['--retries', '0'])).reconnectRetries).toBe(0);
    expect((await client(['--retries', '3'])).reconnectRetries).toBe(3);
    expect((await client([])).reconnectRetries).toBeUndefined();
    await expect(client(['--retries', '-1'])).rejects.toThrow(/retries must be an integer ≥ 0/);
  },
  '--seed': async () => {
    expect((await client(['--seed', '7', '--site', 's'])).splitSeed).toBe(siteSplitSeed(7, 's'));
    expect((await client(['--site', 's'])).splitSeed).toBe(siteSplitSeed(42, 's'));
  },
  '--privacy-ledger': async () => {
    const path = join(dir, 'ledger', 'site.jsonl');
    expect(((await client(['--privacy-ledger', path])).privacyLedger as FilePrivacyLedger).path).toBe(path);
    expect(((await client([])).privacyLedger as FilePrivacyLedger).path).toBe(defaultPrivacyLedgerPath());
  },
  '--audit-log': async () => {
    expect((await client(['--audit-log', join(dir, 'site.audit.jsonl')])).auditLog).toBe(join(dir, 'site.audit.jsonl'));
    expect((await client([])).auditLog).toBeUndefined();
  },
  '--personal-model': async () => {
    expect((await client(['--personal-model', join(dir, 'mine')])).personalModelDir).toBe(join(dir, 'mine'));
    expect((await client([])).personalModelDir).toBeUndefined();
    // When the terms arrive and say the run does not personalise, the site says nothing will be saved (once, one line).
    const termsEvent = (siteReport?: unknown) => ({ type: 'terms', terms: { hash: 'a'.repeat(64), terms: { coordinator: 'b'.repeat(64), ...(siteReport ? { siteReport } : {}) } } }) as never;
    const note = `--personal-model: this run does not personalise (personalization.mode none): nothing will be saved in ${join(dir, 'mine')}`;
    const site = await client(['--personal-model', join(dir, 'mine')]);
    const before = logs.length;
    site.onEvent!(termsEvent());
    site.onEvent!(termsEvent({ personalization: { mode: 'none' } }));
    expect(logs.slice(before).filter((l) => l === note)).toHaveLength(2);
    const personalised = logs.length;
    site.onEvent!(termsEvent({ personalization: { mode: 'head', epochs: 1 } }));
    expect(logs.slice(personalised).some((l) => l.startsWith('--personal-model'))).toBe(false);
    const without = logs.length;
    (await client([])).onEvent!(termsEvent());
    expect(logs.slice(without).some((l) => l.startsWith('--personal-model'))).toBe(false);
  },
  '--workers': async () => {
    expect((await client(['--workers', '3'])).parallel).toMatchObject({ workers: 3 });
    expect((await client([])).parallel).toMatchObject({ workers: Math.min(availableParallelism(), MAX_TRAINING_WORKERS) });
    await expect(client(['--workers', '0'])).rejects.toThrow(/workers must be an integer ≥ 1/);
    await expect(client(['--workers', String(MAX_TRAINING_WORKERS + 1)])).rejects.toMatchObject({ code: 'config' });
  },
  '--sync-every': async () => {
    expect((await client(['--sync-every', '4'])).parallel).toMatchObject({ syncEvery: 4 });
    expect((await client([])).parallel).toMatchObject({ syncEvery: 1 });
    await expect(client(['--sync-every', '0'])).rejects.toThrow(/sync-every must be an integer ≥ 1/);
    // One thread has nothing to average with.
    await expect(client(['--workers', '1', '--sync-every', '4'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--sync-every paces the averaging between worker threads: it has no effect with --workers 1') });
    expect((await client(['--workers', '2', '--sync-every', '4'])).parallel).toMatchObject({ workers: 2, syncEvery: 4 });
  },
  '--backend': async () => {
    expect((await client(['--backend', 'cpu'])).backend).toBe('cpu');
    expect((await client(['--backend', 'wasm'])).backend).toBe('wasm');
    // Object's own names are not backends (toString was taken for an alias and selected a function).
    for (const name of ['toString', 'constructor', 'bogus']) {
      await expect(client(['--backend', name])).rejects.toMatchObject({ code: 'config', message: `unknown backend "${name}" (use one of tfjs-node-gpu, tfjs-node, wasm, cpu)` });
    }
  },
  // Site policy (docs/site-policy.md): the file's policy reaches the site; --show-terms prints the terms and never joins.
  '--policy': async () => {
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'training:\n  maxRounds: 2\n');
    expect((await client(['--policy', file])).policy?.training.maxRounds).toBe(2);
    expect((await client([])).policy).toBeUndefined();
    writeFileSync(file, 'training:\n  maxRounds: -1\n');
    await expect(client(['--policy', file])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/policy\.yaml: training\.maxRounds/) });
  },
  // The data check's counts, sent after joining only when the site agrees (flag or policy); feature names travel to SiteClient, which drops them unless the policy allows.
  '--share-data-summary': async () => {
    const csv = join(dir, 'summary.csv');
    writeFileSync(csv, 'label,a,b\n0,1,5\n0,1,5\n1,,5\n1,4,5\n2,6,5\n');
    const flags = ['--data', csv, '--drop-duplicates', '--impute', 'mean'];
    expect((await client([...flags, '--share-data-summary'])).dataSummary).toEqual({ examples: 4, duplicatesDropped: 1, missingImputed: 1, constantFeatures: 1, labelCounts: [1, 2, 1], featureNames: ['a', 'b'] });
    expect((await client(['--data', csv, '--impute', 'zero', '--share-data-summary'])).dataSummary).toMatchObject({ examples: 5, duplicatesDropped: 0, missingImputed: 1, labelCounts: [2, 2, 1] });
    expect((await client(flags)).dataSummary).toBeUndefined();
    const file = join(dir, 'sharing.yaml');
    writeFileSync(file, 'data:\n  shareSummary: true\n');
    expect((await client([...flags, '--policy', file])).dataSummary).toMatchObject({ examples: 4 });
  },
  '--no-text-augment': async () => {
    const texts = join(dir, 'no-augment-texts.csv');
    writeFileSync(texts, 'label,body\nspam,win now\nham,hi there\n');
    expect((await client(['--data', texts, '--text-column', 'body', '--no-text-augment'])).textAugmentation).toBe(false);
    expect((await client(['--data', texts, '--text-column', 'body'])).textAugmentation).toBeUndefined();
    // On data that is not text there is nothing to opt out of: refused, as --label-column on digits is.
    await expect(client(['--data', 'digits:1/4', '--no-text-augment'])).rejects.toMatchObject({ code: 'config', message: '--no-text-augment reads texts (it opts out of text augmentation): it has no effect on --data that is the built-in digits (digits:K/N)' });
  },
  '--show-terms': async () => {
    const { lines, site, exitCode } = await showTermsOf([]);
    expect(site).toBeUndefined();
    expect(lines[0]).toBe('run terms-cli');
    expect(lines.join('\n')).toMatch(/rounds\s+1 \(at least 1 sites/);
    expect(exitCode).toBeUndefined();
    const file = join(dir, 'refusing.yaml');
    writeFileSync(file, 'privacy:\n  require: record\n');
    const refused = await showTermsOf(['--policy', file]);
    expect(refused.lines.at(-1)).toMatch(/^policy: REFUSE — the policy requires record-level DP/);
    expect(refused.exitCode).toBe(1);
    expect(refused.site).toBeUndefined();
  },
  '--json': async () => {
    const { lines } = await showTermsOf(['--json']);
    const printed = JSON.parse(lines.join('\n'));
    expect(printed.terms.runId).toBe('terms-cli');
    expect(printed.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(printed.verdict).toBeUndefined();
  },
  // The site's own adversarial training (site flag > coordinator instruction; siteTrainConfig applies them).
  ...Object.fromEntries(
    (
      [
        ['--adv-method', ['--adv-method', 'trades'], { method: 'trades' }],
        ['--adv-eps', ['--adv-eps', '0.05'], { eps: 0.05 }],
        ['--adv-steps', ['--adv-steps', '3'], { steps: 3 }],
        ['--adv-step-size', ['--adv-step-size', '0.01'], { stepSize: 0.01 }],
        ['--adv-share', ['--adv-share', '0'], { share: 0 }],
        ['--adv-norm', ['--adv-norm', 'l2'], { norm: 'l2' }],
        ['--adv-eps-units', ['--adv-eps-units', 'data-std'], { epsUnits: 'data-std' }],
        ['--adv-warmup', ['--adv-warmup', '4', '--adv-eps', '0.1'], { warmupRounds: 4, eps: 0.1 }],
        ['--trades-beta', ['--trades-beta', '3'], { beta: 3 }],
        ['--adv-awp', ['--adv-awp', '0.01'], { awp: 0.01 }],
        ['--adv-attack-loss', ['--adv-attack-loss', 'margin'], { attackLoss: 'margin' }],
        ['--adv-space', ['--adv-space', 'embedding'], { space: 'embedding' }],
      ] as const
    ).map(([flag, argv, want]) => [
      flag,
      async () => {
        expect((await client([...argv])).adversarial).toEqual(want);
        expect((await client([])).adversarial).toBeUndefined();
        // Beside a site ε or share of 0 (adversarial training off here), or FGSM for the step flags, the flag would do nothing.
        const off: readonly string[] = flag === '--adv-eps' ? ['--adv-share', '0'] : flag === '--adv-share' ? ['--adv-eps', '0'] : ['--adv-eps', '0'];
        const withoutWarmupEps = flag === '--adv-warmup' ? ['--adv-warmup', '4'] : argv;
        await expect(client([...withoutWarmupEps, ...off]), `${flag} ${off.join(' ')}`).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(new RegExp(`^${flag} has no effect here: it .*turns? (adversarial training )?off`)) });
        if (flag === '--adv-steps' || flag === '--adv-step-size') {
          await expect(client([...argv, '--adv-method', 'fgsm'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining(`${flag} has no effect here: it sets the PGD / TRADES iterations: FGSM takes one step`) });
          expect((await client([...argv, '--adv-method', 'pgd'])).adversarial).toEqual({ ...want, method: 'pgd' });
        }
        // A site's --adv-eps 0 alone opts it out of the run's adversarial training: accepted.
        if (flag === '--adv-eps') expect((await client(['--adv-eps', '0'])).adversarial).toEqual({ eps: 0 });
      },
    ]),
  ),
  // The site's data flags (reading images, categorical CSV and text; the data check and preparation).
  ...siteDataFlagRows(client as never, dir, logs),
};

describe('every client option reaches the site', () => {
  it('--adv-warmup without --adv-eps is a config error (a site ramps only its own ε)', async () => {
    await expect(client(['--adv-warmup', '3'])).rejects.toMatchObject({ code: 'config' });
  });
  it('the table has a row for every option', () => {
    expect(Object.keys(CLIENT_ROWS).sort()).toEqual(clientCommand().options.map((o) => o.long!).sort());
  });
  it.each(Object.keys(CLIENT_ROWS))('%s', async (flag) => CLIENT_ROWS[flag]());
});

// ---- simulate ---------------------------------------------------------------------------------------

async function simulationOf(argv: string[]): Promise<SimulationOptions> {
  return simulationOptionsFromCommand(await parseOnly(simulateCommand(), argv));
}

/** Runs `fedtune simulate ARGV` with a recording stand-in for runSimulation. */
async function simulateRecorded(argv: string[]): Promise<SimulationOptions[]> {
  const calls: SimulationOptions[] = [];
  const command = simulateCommand({
    runSimulation: async (o) => {
      calls.push(o);
      const report = { runId: 'recorded', status: 'complete', rounds: [], final: { accuracy: 0.5 } } as unknown as RunReport;
      return { report, reportPath: join(dir, 'recorded', 'report.json'), runDir: join(dir, 'recorded'), backend: 'cpu', sites: [] };
    },
  });
  command.exitOverride();
  await command.parseAsync(['--out', join(dir, 'sim'), ...argv], { from: 'user' });
  return calls;
}

/** One small real run shared by the rows that need one: 2 sites, 1 round, 16 examples each, in memory, on cpu. */
let smallRun: Promise<RunReport> | undefined;
function smallRealRun(): Promise<RunReport> {
  smallRun ??= (async () => {
    const out = join(dir, 'small-run');
    await simulateCommand().exitOverride().parseAsync(['--sites', '2', '--rounds', '1', '--max-examples', '16', '--federated-eval', 'never', '--robustness', 'never', '--transport', 'memory', '--backend', 'cpu', '--out', out, '--run-id', 'small'], { from: 'user' });
    return JSON.parse(readFileSync(join(out, 'small', 'report.json'), 'utf8')) as RunReport;
  })();
  return smallRun;
}

const SIMULATE_ROWS: Record<string, () => Promise<void>> = {
  '--site-data': async () => {
    // Effects in depth: tests/scale/simulate-site-data.test.ts.
    const resampled = await planSimulation(await simulationOf(['--sites', '3', '--site-data', 'resample:20']));
    expect(resampled.siteData).toEqual({ siteData: { mode: 'resample', examples: 20 }, automatic: false });
    expect(resampled.virtualSites?.spec.examples).toBe(20);
    expect((await planSimulation(await simulationOf(['--sites', '3']))).virtualSites).toBeUndefined();
  },
  '--sites': async () => {
    const plan = await planSimulation(await simulationOf(['--sites', '3']));
    expect(plan.siteIds).toHaveLength(3);
    expect(plan.config.minSites).toBe(3);
  },
  '--out': async () => expect((await smallRealRun()).status).toBe('complete'), // the report was read from --out
  '--transport': async () => expect((await smallRealRun()).simulation).toMatchObject({ transport: 'memory' }),
  '--backend': async () => expect((await smallRealRun()).backend).toBe('cpu'),
  '--partition': async () => {
    const iid = await planSimulation(await simulationOf(['--sites', '4', '--partition', 'shards:1']));
    const plain = await planSimulation(await simulationOf(['--sites', '4']));
    expect(iid.partition).toBe('shards:1');
    expect(iid.labelCounts).not.toEqual(plain.labelCounts);
    // One shard per site: each site holds about a quarter of the labels.
    for (const counts of Object.values(iid.labelCounts)) expect(counts.filter((c) => c > 0).length).toBeLessThanOrEqual(4);
  },
  '--task': async () => {
    const spam = await planSimulation(await simulationOf(['--sites', '2', '--task', 'spam']));
    const digits = await planSimulation(await simulationOf(['--sites', '2']));
    expect([spam.holdout.featureShape, spam.holdout.numClasses, spam.holdout.y.length]).toEqual([[128], 2, 600]);
    expect(digits.holdout.featureShape).toEqual([784]);
    expect(spam.textRobustness).toBeTypeOf('function');
    expect(digits.textRobustness).toBeUndefined();
    // The spam task's own rounds and partition, under the flags; collection splits by sub-collection.
    expect([spam.config.rounds, spam.partition]).toEqual([3, 'dirichlet:0.5']);
    expect((await planSimulation(await simulationOf(['--sites', '2', '--task', 'spam', '--rounds', '5']))).config.rounds).toBe(5);
    expect(Object.keys((await planSimulation(await simulationOf(['--sites', '2', '--task', 'spam', '--partition', 'collection']))).collections!['site-2']!).sort()).toEqual(['easy-ham-2', 'spam-1']);
    await expect(simulateRecorded(['--task', 'text'])).rejects.toThrow(/task/);
    await expect(runSimulation({ task: 'spam', sites: 2, out: dir, transport: 'memory', architecture: 'cnn' })).rejects.toThrow(/the spam task runs the text-cnn model, not "cnn"/);
  },
  '--no-feature-shift': async () => {
    expect((await planSimulation(await simulationOf(['--sites', '2', '--no-feature-shift']))).holdout).toBe(builtinDigits().holdoutClean);
    expect((await planSimulation(await simulationOf(['--sites', '2']))).holdout).toBe(builtinDigits().holdout);
    // The spam task has no scanners: the flag would do nothing there.
    await expect(simulationOf(['--sites', '2', '--task', 'spam', '--no-feature-shift'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--no-feature-shift has no effect with --task spam') });
  },
  '--attack': async () => {
    const plan = await planSimulation(await simulationOf(['--sites', '5', '--attack', 'gaussian']));
    expect(plan.attack?.name).toBe('gaussian');
    expect(plan.malicious).toHaveLength(1);
    expect(Object.keys(plan.hooks)).toEqual(plan.malicious);
    expect(plan.config.expectedMaliciousSites).toBe(1);
  },
  '--attack-opt': async () => {
    expect((await planSimulation(await simulationOf(['--sites', '5', '--attack', 'gaussian', '--attack-opt', 'sigma=3']))).attackOpts).toEqual({ sigma: 3 });
    await expect(planSimulation({ sites: 5, out: dir, transport: 'memory', attack: 'gaussian', attackOptions: { sigmaa: 3 } })).rejects.toThrow(/sigmaa/);
    // Without an attack there is nothing for it to set.
    await expect(simulationOf(['--sites', '5', '--attack-opt', 'sigma=3'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--attack-opt') });
  },
  '--malicious': async () => {
    const plan = await planSimulation(await simulationOf(['--sites', '5', '--attack', 'gaussian', '--malicious', '0.6']));
    expect(plan.malicious).toHaveLength(3);
    expect(plan.config.expectedMaliciousSites).toBe(3);
    // Without an attack no site is malicious, whatever the share.
    await expect(simulationOf(['--sites', '5', '--malicious', '0.6'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--malicious is the share of sites that run --attack: it needs --attack') });
    expect((await planSimulation(await simulationOf(['--sites', '5']))).malicious).toEqual([]);
    // A share of 0 asks for no attacker: refused, never rounded up to one malicious site (a small share is).
    await expect(planSimulation(await simulationOf(['--sites', '3', '--attack', 'label-flip', '--malicious', '0']))).rejects.toMatchObject({ code: 'config', message: '--malicious 0 makes no site run --attack label-flip: drop --attack for a run without attackers' });
    expect((await planSimulation(await simulationOf(['--sites', '3', '--attack', 'label-flip', '--malicious', '0.1']))).malicious).toHaveLength(1);
  },
  // The drops themselves over socket.io with 20 sites: tests/simulation/simulate-dropout.test.ts.
  '--dropout': async () => {
    expect((await simulationOf(['--sites', '5', '--dropout', '0.3'])).dropout).toBe(0.3);
    expect((await simulationOf(['--sites', '5'])).dropout).toBeUndefined();
    expect((await simulationOf(['--sites', '5', '--dropout', '0'])).dropout).toBeUndefined();
    await expect(simulationOf(['--sites', '5', '--dropout', '0.96'])).rejects.toThrow(/dropout/);
  },
  '--arch': async () => {
    expect((await simulateRecorded(['--arch', 'cnn']))[0].architecture).toBe('cnn');
    await expect(runSimulation({ sites: 2, out: dir, transport: 'memory', architecture: 'vit' })).rejects.toThrow(/unknown architecture "vit" for the digits task \(known: cnn, cnn-bn, cnn-dense, cnn-wide, mlp\)/);
  },
  // The threads actually used are checked in tests/fit-pool/simulate-workers.test.ts.
  '--workers': async () => {
    expect((await simulateRecorded(['--workers', '3']))[0].workers).toBe(3);
    expect((await simulateRecorded(['--workers', 'auto']))[0].workers).toBe('auto');
    expect((await simulateRecorded([]))[0].workers).toBeUndefined(); // the default is fitPoolOptions' ('auto')
    await expect(simulateRecorded(['--workers', '0'])).rejects.toThrow(/workers must be auto or an integer ≥ 1/);
    await expect(simulateRecorded(['--workers', 'all'])).rejects.toThrow(/workers must be auto or an integer ≥ 1/);
  },
  '--preset': async () => {
    const calls = await simulateRecorded(['--preset', 'robust']);
    expect(calls).toHaveLength(2);
    expect(calls[0].trainExtras?.adversarial).toBeUndefined();
    expect(calls[1].trainExtras?.adversarial).toEqual(robustPreset().adversarial.adversarial);
    expect([calls[0].trainExtras?.learningRate, calls[1].trainExtras?.learningRate]).toEqual([0.003, 0.003]);
    const [plain, robust] = calls.map((c) => simulationRunConfig(c));
    // Both arms: the preset's architecture and rounds, the same seed; the robust arm trains PGD-7 on every example at 5/3 × the headline ε (0.10), warmed up over a third of the rounds.
    for (const c of calls) expect(c.architecture).toBe('cnn-wide');
    expect([plain.rounds, robust.rounds, plain.seed]).toEqual([robustPreset().rounds, robustPreset().rounds, robust.seed]);
    expect(plain.train.adversarial).toBeUndefined();
    expect(robust.train.adversarial).toEqual({ method: 'pgd', eps: 0.1, share: 1, steps: 7, warmupRounds: 80 });
    expect([plain.train.maxExamples, robust.train.maxExamples]).toEqual([robustPreset().maxExamples, robustPreset().maxExamples]);
    // The comparison needs a final robustness evaluation of both sides: by default, or as often as --robustness says; never is refused.
    for (const c of calls) expect(simulationRunConfig(c).robustness.when).toBe('final');
    // Both arms' headline numbers over 1000 attacked holdout digits (the evaluation's default is 200); a flag overrides it.
    for (const c of calls) expect(simulationRunConfig(c).robustness).toMatchObject({ examples: 1000, adversarialExamples: 1000 });
    for (const c of await simulateRecorded(['--preset', 'robust', '--robustness-examples', '300'])) expect(simulationRunConfig(c).robustness.examples).toBe(300);
    for (const c of await simulateRecorded(['--preset', 'robust', '--robustness', '5'])) expect(simulationRunConfig(c).robustness.when).toBe(5);
    await expect(simulateRecorded(['--preset', 'robust', '--robustness', 'never'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--robustness never does not apply') });
    const comparison = JSON.parse(readFileSync(join(dir, 'sim', 'robust-comparison.json'), 'utf8'));
    expect(comparison).toMatchObject({ preset: 'robust', seed: plain.seed, architecture: 'cnn-wide', headlineEps: 0.06, rounds: robustPreset().rounds });
    expect(comparison.sides.map((s: { seed: number }) => s.seed)).toEqual([plain.seed, plain.seed]);
  },
};

describe('--preset robust: explicit flags override the preset', () => {
  it.each<[string, string[], (plain: RunConfig, robust: RunConfig, calls: SimulationOptions[]) => void]>([
    ['--arch', ['--arch', 'mlp'], (_p, _r, calls) => expect(calls.map((c) => c.architecture)).toEqual(['mlp', 'mlp'])],
    ['--rounds', ['--rounds', '2'], (p, r) => expect([p.rounds, r.rounds]).toEqual([2, 2])],
    ['--seed', ['--seed', '9'], (p, r) => expect([p.seed, r.seed]).toEqual([9, 9])],
    ['--adv-method (the robust arm only)', ['--adv-method', 'trades', '--trades-beta', '2'], (p, r) => expect([p.train.adversarial, r.train.adversarial?.method, r.train.adversarial?.beta]).toEqual([undefined, 'trades', 2])],
    ['--adv-eps (the robust arm only)', ['--adv-eps', '0.1'], (p, r) => expect([p.train.adversarial, r.train.adversarial?.eps]).toEqual([undefined, 0.1])],
    ['--no-feature-shift: the headline ε of clean digits', ['--no-feature-shift'], (_p, r) => expect(r.train.adversarial?.eps).toBe(0.1)],
  ])('%s', async (_, argv, check) => {
    const calls = await simulateRecorded(['--preset', 'robust', ...argv]);
    const [p, r] = calls.map((c) => simulationRunConfig(c));
    check(p, r, calls);
  });
});

describe('every simulate option reaches the federation', () => {
  // --text-augment is a run-config flag (run-config-flags.test.ts); its simulation-side effect: the copies each site trains on.
  it('--text-augment: simulated text sites train on their texts plus the copies', async () => {
    const plain = await planSimulation(await simulationOf(['--sites', '2', '--task', 'spam']));
    const augmented = await planSimulation(await simulationOf(['--sites', '2', '--task', 'spam', '--text-augment', '2:0.2']));
    // Each site trains on its e-mails and two perturbed copies of each, with their labels.
    augmented.datasets.forEach((d, k) => {
      const n = plain.datasets[k]!.y.length;
      expect(d.y).toHaveLength(3 * n);
      expect([...d.y.subarray(n, 2 * n)]).toEqual([...plain.datasets[k]!.y]);
      expect(d.x.subarray(0, n * 128)).toEqual(plain.datasets[k]!.x);
      expect(d.x.subarray(n * 128, 2 * n * 128)).not.toEqual(plain.datasets[k]!.x);
    });
    // A run-config flag (train.textAugmentation): in the fit config and the terms too (tests/text/text-augment-run-config.test.ts).
    expect(augmented.config.train.textAugmentation).toEqual({ copies: 2, rate: 0.2 });
    for (const bad of ['0:0.1', '1:0', '1:1.5', '17:0.1', '0.1']) await expect(simulationOf(['--text-augment', bad])).rejects.toThrow(/COPIES:RATE/);
    const digitsAugmented = await simulationOf(['--sites', '2', '--text-augment', '1:0.1']);
    await expect(planSimulation(digitsAugmented)).rejects.toThrow(/needs a text task/);
  });
  it('the table has a row for every option that is not a run-config flag', () => {
    expect(Object.keys(SIMULATE_ROWS).sort()).toEqual(ownFlags(simulateCommand()).sort());
  });
  it.each(Object.keys(SIMULATE_ROWS))('%s', async (flag) => SIMULATE_ROWS[flag]());

  it('the run-config flags reach runSimulation', async () => {
    const [options] = await simulateRecorded(['--rounds', '3', '--strategy', 'median', '--seed', '9']);
    const config = simulationRunConfig(options);
    expect(config).toMatchObject({ rounds: 3, strategy: 'fedmedian', seed: 9 });
  });
});

describe('--arch without a pretrained checkpoint (missingPretrainedModelError)', () => {
  it('an architecture fedtune does not know: named with those it can start from, not sent to fedtune pretrain', () => {
    const e = missingPretrainedModelError('resnet');
    expect(e.code).toBe('config');
    expect(e.message).toBe('unknown architecture "resnet" for the digits task (known: cnn, cnn-bn, cnn-dense, cnn-wide, mlp)');
    expect(missingPretrainedModelError('text-cnn').message).toMatch(/^unknown architecture "text-cnn" for the digits task/);
    expect(missingPretrainedModelError(`${'x'.repeat(500)}\n`).message.length).toBeLessThan(200);
  });

  it('a known architecture whose checkpoint is missing: sent to fedtune pretrain', () => {
    expect(missingPretrainedModelError('cnn').message).toBe('no pretrained cnn checkpoint: run `fedtune pretrain --arch cnn` first (architectures with one: cnn, cnn-bn, cnn-dense, cnn-wide, mlp)');
  });
});

describe('simulate: a minSites the simulated sites cannot reach', () => {
  it.each([
    ['--min-sites above --sites', { sites: 3, config: { minSites: 5 } }, /minSites 5 is more than the 3 simulated sites \(--sites\): the run would wait for sites that never come; give --min-sites 3 or fewer, or --sites 5/],
  ] as const)('%s is refused at once (config)', (_, o, message) => {
    expect(() => simulationRunConfig({ out: tempDir(), transport: 'memory', ...o } as SimulationOptions)).toThrow(message);
  });

  it('minSites equal to --sites, or fewer, is accepted', () => {
    expect(simulationRunConfig({ out: tempDir(), transport: 'memory', sites: 3, config: { minSites: 3 } } as SimulationOptions).minSites).toBe(3);
    expect(simulationRunConfig({ out: tempDir(), transport: 'memory', sites: 3, config: { minSites: 2 } } as SimulationOptions).minSites).toBe(2);
    expect(simulationRunConfig({ out: tempDir(), transport: 'memory', sites: 4 } as SimulationOptions).minSites).toBe(4);
  });
});
