import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinDigits, writeCsvDataset } from '@fedtune/shared/node';
import { subset } from '@fedtune/shared';
import { compiledEntry, COMPILED_PACKAGES } from '../cli/bin/compiled-entry.mjs';
import { COMMAND_LOADERS, commandsFor } from '../cli/src/commands/command-loaders.ts';
import { requireCommonJsDependencies, rewriteWorkspaceImports } from '../scripts/build-js.mjs';

// Fast start (docs/performance.md#fast-start): the `fedtune` bin runs the compiled JavaScript, and a
// subcommand loads only what it uses — a site never loads the coordinator's server, fastify, socket.io's
// server, SQLite or the simulation. Processes are real; what they load is recorded by a resolve hook
// (tests/helpers/record-modules.mjs).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');
const RECORD = join(ROOT, 'tests', 'helpers', 'record-modules.mjs');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fedtune-startup-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Repository-relative paths of what a process loaded (node_modules packages as `node_modules/<name>/…`).
 * A bundle it ran (cli/dist/bundles/<command>.cjs) counts with every file bundled into it (the build's
 * <command>.inputs.json, from esbuild's metafile).
 */
function loaded(log: string): string[] {
  const files = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))]
    .map((entry) => (entry.startsWith('file://') ? fileURLToPath(entry) : entry))
    .filter((path) => path.startsWith('/'))
    .map((path) => relative(ROOT, path));
  const bundled = files.filter((f) => /^cli\/dist\/bundles\/[a-z-]+\.cjs$/.test(f)).flatMap((f) => JSON.parse(readFileSync(join(ROOT, f.replace(/\.cjs$/, '.inputs.json')), 'utf8')) as string[]);
  return [...new Set([...files, ...bundled])].map((path) => path.replace(/^.*node_modules\//, 'node_modules/'));
}

function requireCurrentBuild(): void {
  const entry = compiledEntry(ROOT);
  if (!entry.url) throw new Error(`the compiled build is not current (${entry.reason}): run npm run build:js (npm test does)`);
}

/** Runs the bin with the module recorder; resolves with its exit code, output and the modules it loaded. */
function runRecorded(args: string[], env: Record<string, string> = {}, onLine?: (line: string) => void): Promise<{ code: number | null; stdout: string; stderr: string; modules: string[] }> {
  const log = join(work, `modules-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const child = spawn(process.execPath, ['--import', RECORD, BIN, ...args], { cwd: work, env: { ...process.env, FEDTUNE_MODULE_LOG: log, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const before = stdout;
    stdout += chunk;
    if (onLine) for (const line of stdout.slice(before.lastIndexOf('\n') + 1).split('\n').slice(0, -1)) onLine(line);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr, modules: loaded(log) })));
}

/**
 * The coordinator files a site may load: the run configuration's schema (`@fedtune/coordinator/config`) and its
 * refusals of settings that would have no effect (inactive-run-config.js, which imports only @fedtune/shared), nothing
 * of the server.
 */
const RUN_CONFIG_GRAPH = ['config/index.js', 'config/run-config-file.js', 'engine/run-config.js', 'engine/dp-aggregation.js', 'engine/secure-aggregation-round.js', 'engine/claimed-example-count.js', 'engine/site-report-config.js', 'config/inactive-run-config.js'];
const NEVER_IN_A_SITE = ['node_modules/fastify/', 'node_modules/@fastify/', 'node_modules/better-sqlite3/', 'node_modules/socket.io/', 'node_modules/pino/', 'cli/dist/simulation/', 'cli/dist/commands/coordinator-command.js', 'cli/src/'];
const NEVER_COMPILED = ['node_modules/tsx/', 'node_modules/typescript/', 'node_modules/esbuild/'];

describe('fedtune client and coordinator, compiled and lazy', () => {
  it('a client that joins a coordinator and trains a round to the end loads neither the coordinator server, fastify, socket.io server, SQLite nor the simulation, and no transpiler', async () => {
    requireCurrentBuild();
    const pool = builtinDigits().pool;
    const csv = join(work, 'site.csv');
    await writeCsvDataset(csv, subset(pool, Array.from({ length: 64 }, (_, i) => i * 97)));
    const runs = join(work, 'runs');
    mkdirSync(runs);
    let resolveUrl!: (url: string) => void;
    const urlSeen = new Promise<string>((resolve) => (resolveUrl = resolve));
    const coordinator = runRecorded(['coordinator', '--port', '0', '--rounds', '1', '--min-sites', '1', '--out', runs], {}, (line) => {
      const match = / listening on (http:\/\/[^;\s]+)/.exec(line);
      if (match) resolveUrl(match[1]);
    });
    const url = await Promise.race([urlSeen, coordinator.then((r) => Promise.reject(new Error(`coordinator exited ${r.code}: ${r.stdout} ${r.stderr}`)))]);
    const client = await runRecorded(['client', '--server', url, '--site', 'site-a', '--data', csv]);
    const served = await coordinator;

    expect(client.stderr).toBe('');
    expect(client.code, client.stdout).toBe(0);
    expect(client.stdout).toMatch(/^joined run /m);
    expect(client.stdout).toMatch(/complete after 1 rounds \(1 trained here\)/);
    expect(served.code).toBe(0);

    // Compiled: the bin ran the client's bundle of cli/dist, and the client command's own module.
    expect(client.modules).toContain('cli/dist/bundles/client.cjs');
    expect(client.modules).not.toContain('cli/dist/bundles/coordinator.cjs');
    expect(client.modules).toContain('cli/dist/commands/client-command.js');
    expect(client.modules).toContain('client-node/dist/index.js');
    for (const path of [...NEVER_IN_A_SITE, ...NEVER_COMPILED]) expect(client.modules.filter((m) => m.startsWith(path)), path).toEqual([]);
    const coordinatorFiles = client.modules.filter((m) => m.startsWith('coordinator/')).map((m) => m.replace(/^coordinator\/dist\//, ''));
    expect(coordinatorFiles.filter((m) => !RUN_CONFIG_GRAPH.includes(m))).toEqual([]);
    // Other subcommands stay unloaded.
    expect(client.modules.filter((m) => /^cli\/dist\/commands\/(simulate|sweep|evaluate|pretrain|partition|sites|admin-token|dp-epsilon)-command\.js$/.test(m))).toEqual([]);

    // The coordinator: compiled (its bundle), its server loaded, but no simulation and no other subcommand.
    expect(served.modules).toContain('cli/dist/bundles/coordinator.cjs');
    expect(served.modules).toContain('cli/dist/commands/coordinator-command.js');
    expect(served.modules.some((m) => m.startsWith('node_modules/fastify/'))).toBe(true);
    for (const path of ['cli/dist/simulation/', 'cli/dist/commands/client-command.js', 'cli/dist/bundles/client.cjs', 'cli/src/', ...NEVER_COMPILED]) expect(served.modules.filter((m) => m.startsWith(path)), path).toEqual([]);
  });

  it.each([
    { name: 'the compiled build by default', env: {} as Record<string, string>, main: 'cli/dist/main.js', transpiler: false },
    { name: 'the TypeScript sources through tsx with FEDTUNE_FROM_SOURCE=1', env: { FEDTUNE_FROM_SOURCE: '1' }, main: 'cli/src/main.ts', transpiler: true },
  ])('fedtune runs $name, with the same output', async ({ env, main, transpiler }) => {
    requireCurrentBuild();
    const run = await runRecorded(['dp-epsilon', '--sampling-rate', '0.01', '--noise', '1.1', '--steps', '100', '--delta', '1e-5'], env);
    expect(run.code).toBe(0);
    expect(run.modules).toContain(main);
    expect(run.modules.some((m) => m.startsWith('node_modules/tsx/'))).toBe(transpiler);
    // Lazy on both paths: dp-epsilon needs neither the coordinator nor fastify.
    expect(run.modules.filter((m) => m.startsWith('node_modules/fastify/') || m.startsWith('coordinator/'))).toEqual([]);
    const reference = spawnSync(process.execPath, [BIN, 'dp-epsilon', '--sampling-rate', '0.01', '--noise', '1.1', '--steps', '100', '--delta', '1e-5'], { cwd: work, encoding: 'utf8', env: { ...process.env, FEDTUNE_FROM_SOURCE: env.FEDTUNE_FROM_SOURCE ? '' : '1' } });
    expect(run.stdout).toBe(reference.stdout);
    expect(run.stdout).toMatch(/ε/);
  });
});

describe('which subcommands a command line loads', () => {
  const all = Object.keys(COMMAND_LOADERS);
  it.each([
    { args: ['client', '--server', 'x', '--site', 'a'], want: ['client'] },
    { args: ['coordinator', '--port', '0'], want: ['coordinator'] },
    { args: ['help', 'sites'], want: ['sites'] },
    { args: ['--help'], want: all },
    { args: ['-V'], want: all },
    { args: [], want: all },
    { args: ['clinet'], want: all },
    { args: ['help'], want: all },
    { args: ['help', 'nope'], want: all },
    { args: ['toString'], want: all },
  ])('$args → $want.length command(s)', ({ args, want }) => {
    expect(commandsFor(args)).toEqual(want);
  });

  it('lists every subcommand of the program once, in help order', () => {
    expect(all).toEqual(['simulate', 'sweep', 'dp-epsilon', 'coordinator', 'client', 'worker', 'sites', 'admin-token', 'pretrain', 'partition', 'evaluate', 'audit']);
  });
});

describe('when the bin runs the compiled build (compiledEntry)', () => {
  function fakeRepo(): string {
    const root = mkdtempSync(join(work, 'repo-'));
    for (const name of COMPILED_PACKAGES) {
      mkdirSync(join(root, name, 'src', 'deep'), { recursive: true });
      writeFileSync(join(root, name, 'src', 'deep', 'a.ts'), 'export {};\n');
      writeFileSync(join(root, name, 'package.json'), '{}\n');
    }
    return root;
  }
  function build(root: string, builtAt: number): void {
    mkdirSync(join(root, 'cli', 'dist'), { recursive: true });
    writeFileSync(join(root, 'cli', 'dist', 'main.js'), '');
    writeFileSync(join(root, 'cli', 'dist', 'build-info.json'), JSON.stringify({ builtAt }));
  }
  const past = new Date(Date.now() - 3_600_000);
  function age(root: string): void {
    for (const name of COMPILED_PACKAGES) {
      utimesSync(join(root, name, 'src', 'deep', 'a.ts'), past, past);
      utimesSync(join(root, name, 'package.json'), past, past);
    }
  }

  it('runs the build when it is newer than every source file and package.json', () => {
    const root = fakeRepo();
    age(root);
    build(root, Date.now());
    expect(compiledEntry(root, {})).toEqual({ url: `file://${join(root, 'cli', 'dist', 'main.js')}` });
  });

  it.each([
    { name: 'not built', prepare: (_root: string) => {}, reason: /not built/ },
    { name: 'a source file changed after the build', prepare: (root: string) => (age(root), build(root, Date.now() - 60_000), writeFileSync(join(root, 'coordinator', 'src', 'deep', 'a.ts'), 'export const x = 1;\n')), reason: /coordinator\/ changed since the build/ },
    { name: 'a package.json changed after the build', prepare: (root: string) => (age(root), build(root, Date.now() - 60_000), writeFileSync(join(root, 'shared', 'package.json'), '{"x":1}\n')), reason: /shared\/ changed since the build/ },
    { name: 'a garbled build-info.json', prepare: (root: string) => (age(root), build(root, Date.now()), writeFileSync(join(root, 'cli', 'dist', 'build-info.json'), '{"builtAt": "soon"}')), reason: /unreadable/ },
    { name: 'FEDTUNE_FROM_SOURCE=1', prepare: (root: string) => (age(root), build(root, Date.now())), env: { FEDTUNE_FROM_SOURCE: '1' }, reason: /FEDTUNE_FROM_SOURCE/ },
  ])('runs the sources when $name', ({ prepare, env, reason }) => {
    const root = fakeRepo();
    prepare(root);
    const entry = compiledEntry(root, env ?? {});
    expect(entry.url).toBeUndefined();
    expect(entry.reason).toMatch(reason);
  });
});

describe('the build (scripts/build-js.mjs)', () => {
  it.each([
    { source: "import { a } from '@fedtune/shared';", want: "import { a } from '@fedtune/shared/js';" },
    { source: 'import { b } from "@fedtune/shared/node";', want: 'import { b } from "@fedtune/shared/js/node";' },
    { source: "export * from '@fedtune/coordinator/config';", want: "export * from '@fedtune/coordinator/js/config';" },
    { source: "const m = await import('@fedtune/client-node');", want: "const m = await import('@fedtune/client-node/js');" },
    { source: "import '@fedtune/cli';", want: "import '@fedtune/cli/js';" },
    { source: "import { z } from 'zod'; const pkg = '@fedtune/shared';", want: "import { z } from 'zod'; const pkg = '@fedtune/shared';" },
  ])('rewrites $source', ({ source, want }) => {
    expect(rewriteWorkspaceImports(source)).toBe(want);
  });

  it.each([
    { source: "import * as tf from '@tensorflow/tfjs';", want: "const tf = __fedtuneRequire('@tensorflow/tfjs');" },
    { source: 'import tfd from "@tensorflow/tfjs";', want: "const tfd = __fedtuneRequire('@tensorflow/tfjs');" },
    { source: "import '@tensorflow/tfjs-backend-wasm';", want: "__fedtuneRequire('@tensorflow/tfjs-backend-wasm');" },
    { source: "await import('@tensorflow/tfjs-backend-wasm');", want: "await Promise.resolve().then(() => __fedtuneRequire('@tensorflow/tfjs-backend-wasm'));" },
    { source: "import { io } from 'socket.io-client';", want: "const { io } = __fedtuneRequire('socket.io-client');" },
    { source: "import { parse as parseYaml, LineCounter } from 'yaml';", want: "const { parse: parseYaml, LineCounter } = __fedtuneRequire('yaml');" },
  ])('loads the CommonJS dependency of $source with require', ({ source, want }) => {
    const out = requireCommonJsDependencies(source);
    expect(out.split('\n').at(-1)).toBe(want);
    expect(out).toMatch(/^import \{ createRequire as __fedtuneCreateRequire \} from 'node:module';\nconst __fedtuneRequire = __fedtuneCreateRequire\(import\.meta\.url\);\n/);
  });

  it.each([
    "await import('@tensorflow/tfjs-node');",
    "import * as core from '@tensorflow/tfjs-core';",
    "import * as x from '@tensorflow/tfjs-backend-wasm-extra';",
    "import { z } from 'zod';",
    "import { io } from 'socket.io-client-extra';",
  ])('leaves %s alone', (source) => {
    expect(requireCommonJsDependencies(source)).toBe(source);
  });

  it('emitted every package: JavaScript that imports no TypeScript file and no workspace source', () => {
    requireCurrentBuild();
    const offenders: string[] = [];
    let files = 0;
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.js')) {
          files += 1;
          const js = readFileSync(path, 'utf8');
          if (/(from\s*|import\s*\(\s*|import\s+)['"][^'"]+\.ts['"]/.test(js) || /['"]@fedtune\/[a-z-]+(\/(?!js\b)[a-z-]+)?['"]/.test(js)) offenders.push(relative(ROOT, path));
        }
      }
    };
    for (const name of COMPILED_PACKAGES) walk(join(ROOT, name, 'dist'));
    expect(offenders).toEqual([]);
    expect(files).toBeGreaterThan(250);
  });
});
