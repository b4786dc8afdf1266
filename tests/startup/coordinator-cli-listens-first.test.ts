// `fedtune coordinator` listens before loading its model and holdout (docs/performance.md#listening-first):
// a bad holdout or model found after listening still ends the process with one clear line and a non-zero code.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pretrainedModelDir } from '@fedtune/coordinator';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

const STACK = /^\s+at .+:\d+/m;
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** Runs `fedtune coordinator ARGS` to its end; whether it said it listens, its code and its stderr lines. */
async function coordinatorExit(args: string[]) {
  const dir = tempDir();
  const run = fedtuneCoordinator(['--port', '0', '--out', join(dir, 'runs'), '--min-sites', '1000', ...args]);
  const [url, exit] = await Promise.all([run.url, run.done]);
  return { url, ...exit, errors: lines(exit.stderr).filter((l) => !/^(warning|note):/.test(l)) };
}

describe('fedtune coordinator: errors found after listening', () => {
  it.each([
    ['a holdout with a non-number', 'label,a,b\n1,0.5,x\n', /^fedtune: data: /],
    ['a holdout with no rows', 'label,a\n', /^fedtune: data: /],
  ])('%s: listens, then exits 1 with one line', async (_, csv, expected) => {
    const file = join(tempDir(), 'holdout.csv');
    writeFileSync(file, csv);
    const { url, code, errors, stdout } = await coordinatorExit(['--holdout', file]);
    expect(url, stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(code).toBe(1);
    expect(errors, errors.join('\n')).toHaveLength(1);
    expect(errors[0]).toMatch(expected);
    expect(errors[0]).not.toMatch(STACK);
  }, 120_000);

  it('a holdout file that does not exist: refused before listening, one line, exit 1', async () => {
    const { url, code, errors } = await coordinatorExit(['--holdout', join(tempDir(), 'missing.csv')]);
    expect(url).toBeUndefined();
    expect(code).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^fedtune: not_found: --holdout .*missing\.csv: no such file$/);
  }, 120_000);

  it('a model whose weights are missing (its manifest is readable): listens, then exits 1 with one line', async () => {
    const model = join(tempDir(), 'model');
    cpSync(pretrainedModelDir('mlp'), model, { recursive: true });
    rmSync(join(model, 'weights.bin'));
    const { url, code, errors } = await coordinatorExit(['--model', model]);
    expect(url).toMatch(/^http:/);
    expect(code).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^fedtune: not_found: no TensorFlow\.js model in .*weights\.bin/);
  }, 120_000);

  it('a model.json that is not JSON: the model is loaded first, so it never listens; one line, exit 1', async () => {
    const model = join(tempDir(), 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'model.json'), '{');
    writeFileSync(join(model, 'weights.bin'), '');
    const { url, code, errors } = await coordinatorExit(['--model', model]);
    expect(url).toBeUndefined();
    expect(code).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^fedtune: config: .*model\.json is not valid JSON: /);
  }, 120_000);
});
