import { spawn } from 'node:child_process';
import { fedtune, FEDTUNE_BIN } from './helpers/fedtune-cli.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { FedtuneError } from '@fedtune/shared';
import { portOption, serverUrlOption } from '../cli/src/commands/options.ts';
import { describeError } from '../cli/src/ui/describe-error.ts';
import { tempDir } from './helpers/federation.ts';

function run(args: string[], o: { closeStdout?: boolean } = {}) {
  return fedtune(args, undefined, o).done;
}

/** A stack trace's frames look like "    at fn (file:line:col)". */
const STACK = /^\s+at .+:\d+/m;

describe('one clear line for every error a user meets', () => {
  it.each([
    [Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', port: 8080, address: '127.0.0.1', syscall: 'listen' }), /port 8080 on 127\.0\.0\.1 is already in use.*--port/],
    [Object.assign(new Error('listen EACCES'), { code: 'EACCES', port: 80, syscall: 'listen' }), /not allowed to listen on port 80/],
    [Object.assign(new Error('open'), { code: 'EACCES', path: '/x/report.json', syscall: 'open' }), /permission denied: \/x\/report\.json/],
    [Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND', hostname: 'nohost' }), /cannot resolve host nohost/],
    [Object.assign(new Error('x'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 1 }), /connection refused by 127\.0\.0\.1:1/],
    [Object.assign(new Error('x'), { code: 'ENOSPC' }), /the disk is full/],
    [new FedtuneError('data', 'the holdout has 31 features'), /^data: the holdout has 31 features$/],
    [new InvalidArgumentError('port must be an integer'), /^port must be an integer$/],
    [new Error(`first line\n    at f (file.ts:1:2)\n${'x'.repeat(10)}`), /^internal: first line$/],
    ['thrown string', /^internal: thrown string$/],
  ])('%s', (err, expected) => {
    const line = describeError(err);
    expect(line).toMatch(expected);
    expect(line).not.toMatch(STACK);
  });

  it('bounds a huge message', () => {
    expect(describeError(new Error('y'.repeat(1_000_000))).length).toBeLessThan(600);
  });

  it('puts no control character on the terminal (a parser quoting a binary file\'s bytes), newlines of a problem list kept', () => {
    expect(describeError(new FedtuneError('config', 'm.json is not valid JSON: "\u001b[2J\u0000x\u0007\u009b31m\t"'))).toBe('config: m.json is not valid JSON: "?[2J?x??31m?"');
    expect(describeError(new Error('\u001b]52;c;ZXZpbA==\u0007'))).toBe('internal: ?]52;c;ZXZpbA==?');
    expect(describeError(new FedtuneError('config', 'a.yaml:1: x: bad\na.yaml:2: y: \u001b[31mbad'))).toBe('config: a.yaml:1: x: bad\na.yaml:2: y: ?[31mbad');
  });

  it('a problem list is at most 20 lines, each bounded, with a count of the rest', () => {
    const problems = Array.from({ length: 25 }, (_, i) => `f.yaml:${i + 1}: k${i}: unknown field${i === 0 ? 'z'.repeat(10_000) : ''}`).join('\n');
    const lines = describeError(new FedtuneError('config', problems)).split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0].length).toBeLessThan(520);
    expect(lines[19]).toBe('f.yaml:20: k19: unknown field');
    expect(lines[20]).toBe('… and 5 more');
    expect(describeError(new FedtuneError('config', problems.split('\n').slice(5).join('\n'))).split('\n')).toHaveLength(20);
  });

  it.each([
    ['8080', 8080],
    ['0', 0],
    ['65535', 65535],
  ])('port %s is accepted', (value, port) => expect(portOption(value)).toBe(port));
  it.each(['99999', '-1', '80.5', 'http', '65536'])('port %s is refused with the range', (value) => {
    expect(() => portOption(value)).toThrow(/port must be an integer in 0\.\.65535/);
  });

  it.each([
    ['http://localhost:8080', 'http://localhost:8080'],
    ['https://coord.example.org', 'https://coord.example.org'],
    ['localhost:8080', 'http://localhost:8080'],
    ['10.0.0.5:9000', 'http://10.0.0.5:9000'],
    ['[::1]:8080', 'http://[::1]:8080'],
    ['coordinator', 'http://coordinator'],
  ])('server %s means %s', (value, url) => expect(serverUrlOption(value)).toBe(url));
  it.each(['ftp://host', 'http://', 'not a url', 'javascript:alert(1)', ''])('server %j is refused with what a URL looks like', (value) => {
    expect(() => serverUrlOption(value)).toThrow(/server must be a URL like http:\/\/localhost:8080/);
  });
});

describe('the command line, end to end', () => {
  it('--version prints the version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 60_000);

  it('a port in use: one line, exit 1, no stack', async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const r = await run(['coordinator', '--port', String(port), '--host', '127.0.0.1', '--out', tempDir()]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`fedtune: port ${port} on 127\\.0\\.0\\.1 is already in use`));
      expect(r.stderr).not.toMatch(STACK);
    } finally {
      blocker.close();
    }
  }, 120_000);

  it('--port 99999: one line, exit 1', async () => {
    const r = await run(['coordinator', '--port', '99999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/port must be an integer in 0\.\.65535/);
    expect(r.stderr).not.toMatch(STACK);
  }, 60_000);

  it('evaluate on a CSV with the wrong feature count says so in one line', async () => {
    const dir = tempDir();
    const header = ['label', ...Array.from({ length: 5 }, (_, j) => `f${j}`)].join(',');
    writeFileSync(join(dir, 'bad.csv'), `${header}\n1,0,0,0,0,0\n2,1,1,1,1,1\n`);
    const r = await run(['evaluate', '--model', join(import.meta.dirname, '..', 'coordinator', 'assets', 'pretrained', 'digits-mlp'), '--data', join(dir, 'bad.csv')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fedtune: data: .*bad\.csv has 5 features per example .* the model expects 784/);
    expect(r.stderr).not.toMatch(STACK);
  }, 120_000);

  it('a closed stdout (`| head`) ends the command quietly, exit 0', async () => {
    const r = await run(['dp-epsilon', '--sampling-rate', '0.1', '--noise', '1', '--steps', '10', '--delta', '1e-5'], { closeStdout: true });
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    expect(r.code).toBe(0);
  }, 60_000);

  it('--retries 0: a client pointed at a dead server gives up at once with one line on stderr, exit 1', async () => {
    const r = await run(['client', '--server', 'localhost:1', '--site', 'a', '--data', 'digits:1/2', '--retries', '0']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/retrying|waiting for the coordinator/);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fedtune: transport: cannot connect to http:\/\/localhost:1: .*ECONNREFUSED/)]);
  }, 60_000);

  it('a client pointed at a dead server says so at once and at every retry', async () => {
    mkdirSync(tempDir(), { recursive: true });
    const child = spawn(FEDTUNE_BIN, ['client', '--server', 'localhost:1', '--site', 'a', '--data', 'digits:1/2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const firstRetry = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => ((out += d.toString()), /retrying in/.test(out) && resolve())));
    await firstRetry;
    child.kill();
    expect(out).toMatch(/cannot reach the coordinator at http:\/\/localhost:1 \(.*ECONNREFUSED.*\); retrying in \d/);
  }, 60_000);
});

describe('mistakes refused before anything runs', () => {
  it.each(['bad name', '', 'x'.repeat(129), 'a/b'])('site name %j', async (name) => {
    const { siteNameOption } = await import('../cli/src/commands/options.ts');
    expect(() => siteNameOption(name)).toThrow(/site name must be 1–128 letters/);
  });
  it('a valid site name passes', async () => {
    const { siteNameOption } = await import('../cli/src/commands/options.ts');
    expect(siteNameOption('hospital-3.icu_a')).toBe('hospital-3.icu_a');
  });
});
