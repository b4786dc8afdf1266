import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_COMMANDS as BIN_BUNDLED_COMMANDS, bundleFor, compiledEntry } from '../cli/bin/compiled-entry.mjs';
import { codeCacheFile } from '../cli/bin/run-bundle.mjs';
import { BUNDLED_COMMANDS, relocateModuleSource } from '../scripts/build-bundles.mjs';

// Bundled subcommands and their V8 code cache (docs/performance.md#bundled-subcommands-and-a-code-cache):
// `fedtune client`, `fedtune coordinator` and `fedtune simulate` run one esbuild bundle each, compiled from a code cache.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');
const RUN_BUNDLE = pathToFileURL(join(ROOT, 'cli', 'bin', 'run-bundle.mjs')).href;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fedtune-bundle-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function requireCurrentBuild(): void {
  const entry = compiledEntry(ROOT);
  if (!entry.url) throw new Error(`the compiled build is not current (${entry.reason}): run npm run build:js (npm test does)`);
}

describe('which command lines run a bundle (bundleFor)', () => {
  const bundles = join(ROOT, 'cli', 'dist', 'bundles');
  it.each([
    { args: ['client', '--server', 'x'], env: {}, want: join(bundles, 'client.cjs') },
    { args: ['coordinator', '--port', '0'], env: {}, want: join(bundles, 'coordinator.cjs') },
    { args: ['client', '--server', 'x'], env: { FEDTUNE_BUNDLE: '0' }, want: undefined },
    { args: ['simulate', '--rounds', '2'], env: {}, want: join(bundles, 'simulate.cjs') },
    { args: ['simulate'], env: { FEDTUNE_BUNDLE: '0' }, want: undefined },
    { args: ['evaluate'], env: {}, want: undefined },
    { args: ['help', 'client'], env: {}, want: undefined },
    { args: ['--help'], env: {}, want: undefined },
    { args: [], env: {}, want: undefined },
  ])('$args with $env → $want', ({ args, env, want }) => {
    requireCurrentBuild();
    expect(bundleFor(ROOT, args, env)).toBe(want);
  });

  it('runs no bundle the build did not make', () => {
    const root = mkdtempSync(join(work, 'repo-'));
    expect(bundleFor(root, ['client'], {})).toBeUndefined();
  });

  it('the bin and the build agree on which subcommands are bundled', () => {
    expect([...BIN_BUNDLED_COMMANDS].sort()).toEqual(Object.keys(BUNDLED_COMMANDS).sort());
  });
});

describe('a bundled module keeps its file location (relocateModuleSource)', () => {
  const bundleDir = '/repo/cli/dist/bundles';
  const file = '/repo/shared/dist/node/load-digits.js';
  it.each([
    { name: 'import.meta.url', source: 'const u = new URL("./w.js", import.meta.url);', want: 'const u = new URL("./w.js", __fedtuneUrl.pathToFileURL(__fedtunePath.join(__fedtuneBundleDir, "../../../shared/dist/node/load-digits.js")).href);' },
    { name: 'a required CommonJS dependency', source: "const tf = __fedtuneRequire('@tensorflow/tfjs');", want: "const tf = require('@tensorflow/tfjs');" },
    { name: 'the require function itself', source: 'const r = __fedtuneRequire.resolve;', want: 'const r = __fedtuneRequire.resolve;' },
    { name: 'a dynamic import of a computed name', source: 'await import(name);', want: 'await __fedtuneImport(name);' },
    { name: 'a dynamic import of a literal (bundled)', source: "await import('./x.js');", want: "await import('./x.js');" },
    { name: 'an import() in a template (code for a worker)', source: 'const boot = `import(${x})`;', want: 'const boot = `import(${x})`;' },
    { name: 'an import() inside a template', source: 'const b = `x; return import(${JSON.stringify(e)});`;', want: 'const b = `x; return import(${JSON.stringify(e)});`;' },
    { name: 'a mention in a string', source: 'const s = "import.meta.url";', want: 'const s = "import.meta.url";' },
    { name: 'a property of that name', source: 'x.import.meta.url = 1;', want: 'x.import.meta.url = 1;' },
  ])('$name', ({ source, want }) => {
    expect(relocateModuleSource(source, file, bundleDir)).toBe(want);
  });

  it('declares __dirname and __filename at the top of a module that uses them, leaving strings alone', () => {
    const out = relocateModuleSource('var d = __dirname + "/"; var s = "href:__filename";', file, bundleDir);
    expect(out).toBe('var __dirname = __fedtunePath.join(__fedtuneBundleDir, "../../../shared/dist/node"), __filename = __fedtunePath.join(__fedtuneBundleDir, "../../../shared/dist/node/load-digits.js");\nvar d = __dirname + "/"; var s = "href:__filename";');
    expect(relocateModuleSource('const a = 1;', file, bundleDir)).toBe('const a = 1;');
  });
});

describe('the code cache (runBundle)', () => {
  /** Runs `file` with runBundle in a fresh Node process; returns its stdout lines. */
  function run(file: string): { code: number | null; lines: string[]; stderr: string } {
    const script = `import(${JSON.stringify(RUN_BUNDLE)}).then((m) => m.runBundle(${JSON.stringify(file)}, (c) => console.log('cache ' + c)));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    return { code: child.status, lines: child.stdout.trim().split('\n'), stderr: child.stderr };
  }
  function bundle(name: string): string {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'b.cjs');
    // What a bundle relies on: module/exports, a require that resolves from the bundle's directory, its
    // file location, a dynamic import of a computed name, and being the module in require.cache.
    writeFileSync(file, [
      "const path = require('node:path');",
      'module.exports.answer = 42;',
      "console.log('file ' + path.basename(__filename) + ' in ' + path.basename(__dirname));",
      "console.log('cached ' + (require.cache[__filename] === module) + ' ' + module.exports.answer);",
      "const name = 'node:os';",
      "__fedtuneImport(name).then((os) => console.log('import ' + (typeof os.cpus)));",
      'function unused() { return [1, 2, 3].map((x) => x * 2); }',
    ].join('\n'));
    return file;
  }

  it('runs the bundle as a CommonJS module, writes a cache when there is none, and uses it next time', () => {
    const file = bundle('fresh');
    const first = run(file);
    expect(first.stderr).toBe('');
    expect(first.lines).toEqual(['cache missing', 'file b.cjs in fresh', 'cached true 42', 'import function']);
    expect(existsSync(codeCacheFile(file))).toBe(true);
    const second = run(file);
    expect(second.lines[0]).toBe('cache hit');
    expect(second.lines.slice(1)).toEqual(first.lines.slice(1));
  });

  it('replaces a cache V8 rejects (a garbled file, or another bundle of the same name)', () => {
    const file = bundle('garbled');
    writeFileSync(codeCacheFile(file), 'not a code cache');
    expect(run(file).lines[0]).toBe('cache rejected');
    expect(readFileSync(codeCacheFile(file), 'utf8')).not.toBe('not a code cache');
    expect(run(file).lines[0]).toBe('cache hit');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nconsole.log('rebuilt');`);
    const rebuilt = run(file);
    expect(rebuilt.lines[0]).toBe('cache rejected');
    expect(rebuilt.lines).toContain('rebuilt');
  });

  it('still runs where the cache cannot be written (its path taken by a directory), leaving no temporary file', () => {
    const file = bundle('unwritable');
    mkdirSync(join(codeCacheFile(file), 'taken'), { recursive: true });
    const out = run(file);
    expect(out.code).toBe(0);
    expect(out.lines).toEqual(['cache missing', 'file b.cjs in unwritable', 'cached true 42', 'import function']);
    expect(readdirSync(join(work, 'unwritable')).sort()).toEqual(['b.cjs', 'b.cjs.v8-cache']);
  });
});

describe('a bundled subcommand and the unbundled build behave the same', () => {
  it.each(Object.keys(BUNDLED_COMMANDS))('fedtune %s --help, and a bad flag', (command) => {
    requireCurrentBuild();
    const runs = [{}, { FEDTUNE_BUNDLE: '0' }].map((env) => ({
      help: spawnSync(process.execPath, [BIN, command, '--help'], { cwd: work, encoding: 'utf8', env: { ...process.env, FEDTUNE_DEBUG: '1', ...env } }),
      bad: spawnSync(process.execPath, [BIN, command, ...(command === 'client' ? ['--server', 'http://127.0.0.1:1', '--site', 'a', '--data', 'x.csv'] : []), '--no-such-flag'], { cwd: work, encoding: 'utf8', env: { ...process.env, ...env } }),
    }));
    expect(runs[0].help.stderr).toMatch(new RegExp(`running the bundled subcommand .*bundles/${command}\\.cjs \\(code cache: hit\\)`));
    expect(runs[1].help.stderr).toMatch(/running the compiled build \(cli\/dist\)/);
    expect(runs[0].help.status).toBe(0);
    expect(runs[0].help.stdout).toBe(runs[1].help.stdout);
    expect(runs[0].help.stdout).toMatch(new RegExp(`^Usage: fedtune ${command} `));
    expect(runs[0].bad.status).toBe(1);
    expect(runs[0].bad.stderr).toBe(runs[1].bad.stderr);
    expect(runs[0].bad.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
});

describe('the bundled coordinator finds the files its modules locate from their own path', () => {
  it('serves the dashboard assets (our import.meta.url) and the API docs assets (a package\'s __dirname)', async () => {
    requireCurrentBuild();
    const child = spawn(process.execPath, [BIN, 'coordinator', '--port', '0', '--rounds', '1', '--min-sites', '1000', '--out', join(work, 'runs-assets')], { cwd: work, env: { ...process.env, FEDTUNE_DEBUG: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk;
          const match = / listening on (http:\/\/[^;\s]+)/.exec(out);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`coordinator exited ${code}: ${out} ${stderr}`)));
      });
      expect(stderr).toMatch(/running the bundled subcommand .*bundles\/coordinator\.cjs/);
      for (const [path, type] of [['/dashboard/dashboard.js', /javascript/], ['/docs/static/swagger-ui.css', /css/]] as const) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toMatch(type);
        expect((await res.text()).length, path).toBeGreaterThan(1000);
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});
