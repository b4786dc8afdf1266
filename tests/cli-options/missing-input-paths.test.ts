import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { refuseMissingInputPaths } from '../../cli/src/commands/input-paths.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

/** A stack trace's frames look like "    at fn (file:line:col)". */
const STACK = /^\s+at .+:\d+/m;

const dir = tempDir('fedtune-missing-inputs-');
const missing = (name: string) => join(dir, 'absent', name);
const out = join(dir, 'runs');
const aFile = join(dir, 'a-file.csv');
writeFileSync(aFile, 'label,x\n0,1\n');
const aDir = join(dir, 'a-dir');
mkdirSync(aDir);

/** Every option of every command that reads a file or a directory the user names: [command line, option, path, what]. */
const CASES: Array<[string, string[], string, string, string]> = [
  ['client --data', ['client', '--server', 'http://127.0.0.1:9', '--site', 's', '--data', missing('site.csv')], '--data', missing('site.csv'), 'file or directory'],
  ['client --policy', ['client', '--server', 'http://127.0.0.1:9', '--site', 's', '--data', 'digits:1/2', '--policy', missing('p.yaml')], '--policy', missing('p.yaml'), 'file'],
  ['client --ca', ['client', '--server', 'https://127.0.0.1:9', '--site', 's', '--data', 'digits:1/2', '--ca', missing('ca.pem')], '--ca', missing('ca.pem'), 'file'],
  ['evaluate --model', ['evaluate', '--model', missing('model'), '--data', 'digits-holdout'], '--model', missing('model'), 'directory'],
  ['evaluate --data', ['evaluate', '--model', aDir, '--data', missing('eval.csv')], '--data', missing('eval.csv'), 'file'],
  ['simulate --config', ['simulate', '--config', missing('run.yaml'), '--out', out], '--config', missing('run.yaml'), 'file'],
  ['coordinator --config', ['coordinator', '--port', '0', '--out', out, '--config', missing('run.yaml')], '--config', missing('run.yaml'), 'file'],
  ['coordinator --model', ['coordinator', '--port', '0', '--out', out, '--model', missing('model')], '--model', missing('model'), 'directory'],
  ['coordinator --holdout', ['coordinator', '--port', '0', '--out', out, '--holdout', missing('holdout.csv')], '--holdout', missing('holdout.csv'), 'file'],
  ['coordinator --tls-cert', ['coordinator', '--port', '0', '--out', out, '--tls-cert', missing('c.pem'), '--tls-key', aFile], '--tls-cert', missing('c.pem'), 'file'],
  ['coordinator --tls-key', ['coordinator', '--port', '0', '--out', out, '--tls-cert', aFile, '--tls-key', missing('k.pem')], '--tls-key', missing('k.pem'), 'file'],
  ['coordinator --cluster-secret-file', ['coordinator', '--port', '0', '--out', out, '--cluster', 'redis://127.0.0.1:9', '--cluster-secret-file', missing('s')], '--cluster-secret-file', missing('s'), 'file'],
  ['sweep --space', ['sweep', '--space', missing('space.yaml'), '--out', join(dir, 'sweep')], '--space', missing('space.yaml'), 'file'],
  ['sweep --config', ['sweep', '--param', 'arch=mlp', '--config', missing('run.yaml'), '--out', join(dir, 'sweep')], '--config', missing('run.yaml'), 'file'],
  ['sweep --resume', ['sweep', '--resume', missing('sweep')], '--resume', missing('sweep'), 'directory'],
  ['audit verify <audit-log>', ['audit', 'verify', missing('audit.jsonl')], '<audit-log>', missing('audit.jsonl'), 'file'],
  ['audit verify --site-log', ['audit', 'verify', aFile, '--site-log', missing('site.jsonl')], '--site-log', missing('site.jsonl'), 'file'],
];

describe('an input option naming nothing on disk: one line naming the option and the path, exit 1, nothing created', () => {
  it.each(CASES)('%s', async (_, args, option, path, what) => {
    const exit = await fedtune(args).done;
    expect(exit.code, exit.stderr).toBe(1);
    const lines = exit.stderr.trim().split('\n').filter((l) => !/^(warning|note):/.test(l));
    expect(lines, exit.stderr).toEqual([`fedtune: not_found: ${option} ${path}: no such ${what}`]);
    expect(exit.stderr).not.toMatch(STACK);
    expect(exit.stderr + exit.stdout).not.toContain('ENOENT');
    // Refused before any side effect: no runs directory, no fedtune.db, no sweep directory.
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'sweep'))).toBe(false);
  }, 60_000);

  it('a file where a directory is expected, and the reverse, is one line too', () => {
    expect(() => refuseMissingInputPaths([{ option: '--model', path: aFile, kind: 'directory' }])).toThrow(`--model ${aFile}: is a file, not a directory`);
    expect(() => refuseMissingInputPaths([{ option: '--holdout', path: aDir, kind: 'file' }])).toThrow(`--holdout ${aDir}: is a directory, not a file`);
    expect(() => refuseMissingInputPaths([{ option: '--data', path: aDir, kind: 'file or directory' }, { option: '--data', path: aFile, kind: 'file or directory' }, { option: '--ca', path: undefined, kind: 'file' }])).not.toThrow();
  });

  it('bounds a huge path in the line', () => {
    const huge = `/${'x'.repeat(100_000)}`;
    let message = '';
    try {
      refuseMissingInputPaths([{ option: '--data', path: huge, kind: 'file' }]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^--data \/x+… \(\d+ more characters\): /);
    expect(message.length).toBeLessThan(400);
  });
});
