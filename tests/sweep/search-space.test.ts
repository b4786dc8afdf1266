import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridTrials } from '../../cli/src/sweep/grid-search.ts';
import { randomTrials } from '../../cli/src/sweep/random-search.ts';
import { combineSpaces, loadSearchSpaceFile, parseParamOption } from '../../cli/src/sweep/search-space.ts';
import { checkTrial, trialSimulationOptions } from '../../cli/src/sweep/trial-simulation.ts';
import { planSweep } from '../../cli/src/sweep/sweep-plan.ts';
import { tempDir } from '../helpers/federation.ts';
import { settings } from './fake-trials.ts';

const dir = tempDir();

describe('grid search', () => {
  it('enumerates every combination exactly once, the last parameter fastest', () => {
    const trials = gridTrials({ 'train.learningRate': [0.001, 0.01], arch: ['mlp', 'cnn'], 'train.epochs': [1, 2, 3] });
    expect(trials).toHaveLength(12);
    expect(trials.slice(0, 4)).toEqual([
      { 'train.learningRate': 0.001, arch: 'mlp', 'train.epochs': 1 },
      { 'train.learningRate': 0.001, arch: 'mlp', 'train.epochs': 2 },
      { 'train.learningRate': 0.001, arch: 'mlp', 'train.epochs': 3 },
      { 'train.learningRate': 0.001, arch: 'cnn', 'train.epochs': 1 },
    ]);
    expect(new Set(trials.map((t) => JSON.stringify(t))).size).toBe(12);
    expect(trials[11]).toEqual({ 'train.learningRate': 0.01, arch: 'cnn', 'train.epochs': 3 });
  });

  it('refuses a range (it has no grid) and a grid too large to run', () => {
    expect(() => gridTrials({ 'train.learningRate': { min: 0.001, max: 0.1, log: true, int: false } })).toThrow(/is a range: grid search needs a list/);
    const big = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(() => gridTrials({ 'train.epochs': big, 'train.batchSize': big })).toThrow(/40000 trials/);
  });
});

describe('random search', () => {
  const space = {
    'train.learningRate': { min: 1e-4, max: 1e-1, log: true, int: false },
    'train.epochs': { min: 1, max: 4, log: false, int: true },
    'robustness.pgdStepSize': { min: 0.01, max: 0.02, log: false, int: false },
    arch: ['mlp', 'cnn'],
  };

  it('is seeded: the same seed gives exactly the same trials, another seed others', () => {
    const a = randomTrials(space, 20, 7);
    expect(randomTrials(space, 20, 7)).toEqual(a);
    expect(randomTrials(space, 20, 8)).not.toEqual(a);
    // A prefix is stable: asking for fewer trials gives the first ones.
    expect(randomTrials(space, 5, 7)).toEqual(a.slice(0, 5));
  });

  it('draws inside each range: log-uniform, integers, and list members', () => {
    const trials = randomTrials(space, 400, 3);
    const lr = trials.map((t) => t['train.learningRate'] as number);
    for (const v of lr) expect(v).toBeGreaterThanOrEqual(1e-4), expect(v).toBeLessThanOrEqual(1e-1);
    // Log-uniform: about a third of the draws in each decade (uniform would put ~90% in the last one).
    const lastDecade = lr.filter((v) => v >= 1e-2).length / lr.length;
    expect(lastDecade).toBeGreaterThan(0.2);
    expect(lastDecade).toBeLessThan(0.5);
    const epochs = trials.map((t) => t['train.epochs']);
    expect(new Set(epochs)).toEqual(new Set([1, 2, 3, 4]));
    for (const t of trials) expect(['mlp', 'cnn']).toContain(t.arch);
    for (const t of trials) expect(t['robustness.pgdStepSize']).toBeGreaterThanOrEqual(0.01), expect(t['robustness.pgdStepSize']).toBeLessThanOrEqual(0.02);
  });

  it('the plan of a random sweep is its seeded draws, numbered from 0', () => {
    const plan = planSweep(settings({ space, search: 'random', trials: 6, seed: 11 }));
    expect(plan.trials.map((t) => t.trial)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(plan.trials.map((t) => t.params)).toEqual(randomTrials(space, 6, 11));
  });
});

describe('--param and --space', () => {
  it('parses lists (numbers, booleans, strings) and ranges', () => {
    let s = parseParamOption('train.learningRate=0.001,0.01');
    s = parseParamOption('featureShift=true,false', s);
    s = parseParamOption('arch=mlp,cnn', s);
    s = parseParamOption('train.epochs=1..5:int', s);
    s = parseParamOption('train.batchSize=8..64:log:int', s);
    expect(s).toEqual({
      'train.learningRate': [0.001, 0.01],
      featureShift: [true, false],
      arch: ['mlp', 'cnn'],
      'train.epochs': { min: 1, max: 5, log: false, int: true },
      'train.batchSize': { min: 8, max: 64, log: true, int: true },
    });
  });

  it.each([
    ['train.learningRat=0.1', /train\.learningRat: unknown field \(did you mean "learningRate"\?\)/],
    ['nope=1', /sweep parameter nope: .*unknown field.*or a simulation option: arch, partition, sites, featureShift/],
    ['rounds=1,2', /the sweep sets it \(use --min-rounds\/--max-rounds/],
    ['train.learningRate', /--param expects key=v1,v2/],
    ['train.learningRate=0.1..0.01', /min must be ≤ max/],
    ['train.learningRate=0..1:log', /a log range needs min > 0/],
    ['train.epochs=1.2..1.8:int', /an int range needs an integer/],
  ])('refuses --param %s with one clear line', (text, message) => {
    expect(() => parseParamOption(text)).toThrow(message);
    try {
      parseParamOption(text);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
      expect((err as { code?: string }).code).toBe('config');
    }
  });

  it('refuses a key given twice, in the file and as a --param, and an empty space', () => {
    expect(() => parseParamOption('arch=cnn', { arch: ['mlp'] })).toThrow(/given twice/);
    expect(() => combineSpaces({ arch: ['mlp'] }, { arch: ['cnn'] })).toThrow(/both in the --space file and a --param/);
    expect(() => combineSpaces(undefined, undefined)).toThrow(/needs a search space/);
  });

  it('reads YAML and JSON files, and names the file and field of a mistake', () => {
    const yaml = join(dir, 'space.yaml');
    writeFileSync(yaml, 'params:\n  train.learningRate: { min: 0.0001, max: 0.1, log: true }\n  arch: [mlp, cnn]\n');
    expect(loadSearchSpaceFile(yaml)).toEqual({ 'train.learningRate': { min: 0.0001, max: 0.1, log: true, int: false }, arch: ['mlp', 'cnn'] });
    const json = join(dir, 'space.json');
    writeFileSync(json, JSON.stringify({ params: { 'train.epochs': [1, 2] } }));
    expect(loadSearchSpaceFile(json)).toEqual({ 'train.epochs': [1, 2] });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'params:\n  train.learningRate: { min: 1, maxx: 2 }\n');
    expect(() => loadSearchSpaceFile(bad)).toThrow(new RegExp(`${bad}: params\\.train\\.learningRate`));
    writeFileSync(bad, 'parms: {}\n');
    expect(() => loadSearchSpaceFile(bad)).toThrow(/bad\.yaml: params: .*expected record/);
    expect(() => loadSearchSpaceFile(join(dir, 'missing.yaml'))).toThrow(/no such file/);
  });

  it('a value the RunConfig schema refuses stops the sweep with the schema\'s own message and the trial', () => {
    const s = settings({ space: { 'train.learningRate': [0.01, -1] } });
    const plan = planSweep(s);
    expect(() => checkTrial(trialSimulationOptions(s, dir, 0, plan.trials[0].params, 1), plan.trials[0].params)).not.toThrow();
    const bad = () => checkTrial(trialSimulationOptions(s, dir, 1, plan.trials[1].params, 1), plan.trials[1].params);
    expect(bad).toThrow(/^sweep trial train\.learningRate=-1: train\.learningRate: Too small: expected number to be >0 \(got -1\)$/);
    const arch = settings({ space: { arch: ['vit'] } });
    expect(() => checkTrial(trialSimulationOptions(arch, dir, 0, { arch: 'vit' }, 1), { arch: 'vit' })).toThrow(/unknown architecture "vit" for the digits task \(known: cnn, cnn-bn, cnn-dense, cnn-wide, mlp\)/);
    const part = settings({ space: { partition: ['dirichlet:zero'] } });
    expect(() => checkTrial(trialSimulationOptions(part, dir, 0, { partition: 'dirichlet:zero' }, 1), { partition: 'dirichlet:zero' })).toThrow(/sweep trial partition=dirichlet:zero/);
  });
});
