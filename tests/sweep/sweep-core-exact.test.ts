import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dominates, paretoFront } from '../../cli/src/sweep/pareto-front.ts';
import { promote, promotedCount, rungRounds } from '../../cli/src/sweep/successive-halving.ts';
import { checkParamKey, checkSearchSpace, combineSpaces, isRange, isSimulationParam, loadSearchSpaceFile, parseParamOption, SIMULATION_PARAMS } from '../../cli/src/sweep/search-space.ts';
import { RunConfig } from '../../coordinator/src/engine/run-config.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * The sweep's user input and selection, exactly: every message of --param / --space, each bound of a
 * search space, the rungs and promotions of successive halving at their edges, the Pareto front's order.
 * Fast (no simulation): with search-space, successive-halving and pareto-front tests, the mutation run's files.
 */

const configError = (message: string) => ({ code: 'config', message });

describe('rungRounds and promotedCount at their edges', () => {
  it.each<[number, number, number, number[]]>([
    [1, 1, 2, [1]],
    [1, 2, 2, [1, 2]],
    [1, 5, 2, [1, 2, 4, 5]],
    [4, 5, 3, [4, 5]],
  ])('min %i, max %i, η %i → %j', (min, max, eta, want) => expect(rungRounds(min, max, eta)).toEqual(want));

  it.each<[number, number, number, string]>([
    [0, 3, 2, 'successive halving needs 1 ≤ min-rounds ≤ max-rounds (got 0 and 3)'],
    [1.5, 3, 2, 'successive halving needs 1 ≤ min-rounds ≤ max-rounds (got 1.5 and 3)'],
    [1, 2.5, 2, 'successive halving needs 1 ≤ min-rounds ≤ max-rounds (got 1 and 2.5)'],
    [3, 2, 2, 'successive halving needs 1 ≤ min-rounds ≤ max-rounds (got 3 and 2)'],
    [1, 3, 1, 'eta must be an integer ≥ 2 (got 1)'],
    [1, 3, 2.5, 'eta must be an integer ≥ 2 (got 2.5)'],
  ])('min %s, max %s, η %s: refused', (min, max, eta, message) => {
    expect(thrownCodeAndMessage(() => rungRounds(min, max, eta))).toEqual(configError(message));
  });

  it.each([
    [3, 3, 1],
    [5, 2, 2],
    [1, 3, 1],
    [6, 3, 2],
    [7, 3, 2],
  ])('%i trials, η %i → %i promoted', (n, eta, want) => expect(promotedCount(n, eta)).toBe(want));
});

describe('promote', () => {
  it('never promotes a non-finite score; failed trials still count towards how many go on', () => {
    const results = [
      { trial: 0, score: NaN },
      { trial: 1, score: Infinity },
      { trial: 2, score: -Infinity },
      { trial: 3, score: 0.2 },
      { trial: 4, score: null },
      { trial: 5, score: 0.1 },
    ];
    // 6 results, η = 3: two promoted, from the two finite scores.
    expect(promote(results, 3)).toEqual([3, 5]);
    // A non-finite score alone beside a finite one: it would rank first (∞) or by trial number (NaN) if kept.
    expect(promote([{ trial: 0, score: Infinity }, { trial: 1, score: 0.5 }], 2)).toEqual([1]);
    expect(promote([{ trial: 0, score: Number.NaN }, { trial: 1, score: -0.5 }], 2)).toEqual([1]);
  });

  it('orders by score descending, then trial ascending, negative scores included', () => {
    expect(promote([{ trial: 2, score: -0.5 }, { trial: 0, score: -0.1 }, { trial: 1, score: -0.1 }, { trial: 3, score: -0.9 }], 2)).toEqual([0, 1]);
    expect(promote([{ trial: 9, score: 0 }, { trial: 8, score: 0 }], 2)).toEqual([8]);
    expect(promote([], 2)).toEqual([]);
  });
});

describe('the Pareto front: order and edges', () => {
  it('dominates: at least as good on both and strictly better on one', () => {
    const p = (clean: number, robust: number) => ({ trial: 0, clean, robust });
    expect(dominates(p(0.5, 0.5), p(0.5, 0.5))).toBe(false);
    expect(dominates(p(0.6, 0.5), p(0.5, 0.5))).toBe(true);
    expect(dominates(p(0.5, 0.6), p(0.5, 0.5))).toBe(true);
    expect(dominates(p(0.6, 0.4), p(0.5, 0.5))).toBe(false);
    expect(dominates(p(0.4, 0.6), p(0.5, 0.5))).toBe(false);
  });

  it('returns the front by clean descending, robust descending, then trial', () => {
    const front = paretoFront([
      { trial: 0, clean: 0.5, robust: 0.9 },
      { trial: 7, clean: 0.9, robust: 0.1 },
      { trial: 2, clean: 0.7, robust: 0.5 },
      { trial: 5, clean: 0.9, robust: 0.1 },
      { trial: 3, clean: 0.6, robust: 0.4 },
    ]);
    expect(front.map((p) => p.trial)).toEqual([5, 7, 2, 0]);
  });

  it('a single point with robust accuracy 0 is the front; so is the top clean point however low its robust', () => {
    expect(paretoFront([{ trial: 4, clean: 0.5, robust: 0 }]).map((p) => p.trial)).toEqual([4]);
    expect(paretoFront([{ trial: 0, clean: 1, robust: 0 }, { trial: 1, clean: 0, robust: 0 }]).map((p) => p.trial)).toEqual([0]);
    // Equal robust below a higher clean point: dominated.
    expect(paretoFront([{ trial: 0, clean: 0.9, robust: 0.3 }, { trial: 1, clean: 0.8, robust: 0.3 }]).map((p) => p.trial)).toEqual([0]);
  });
});

describe('--param: every form and every message', () => {
  it.each<[string, Record<string, unknown>]>([
    ['train.learningRate=1e-3..1e-1:log', { 'train.learningRate': { min: 0.001, max: 0.1, log: true, int: false } }],
    ['train.learningRate=0.5..2', { 'train.learningRate': { min: 0.5, max: 2, log: false, int: false } }],
    ['train.epochs=2..2:int', { 'train.epochs': { min: 2, max: 2, log: false, int: true } }],
    ['train.epochs=0.5..1:int', { 'train.epochs': { min: 0.5, max: 1, log: false, int: true } }],
    ['train.epochs=1..4:int:log', { 'train.epochs': { min: 1, max: 4, log: true, int: true } }],
    [' arch =mlp', { arch: ['mlp'] }],
    ['arch=mlp, cnn', { arch: ['mlp', ' cnn'] }],
    ['sites=2, 3', { sites: [2, 3] }],
    ['sites= ', { sites: [' '] }],
    ['featureShift=true,false,TRUE', { featureShift: [true, false, 'TRUE'] }],
    ['partition=iid,', { partition: ['iid', ''] }],
    ['arch=a=b', { arch: ['a=b'] }],
    // After a decimal point: exponents of two digits, with and without a minus, and decimals of two digits (each part of the range's pattern).
    ['train.learningRate=1.5e-10..2.5e-2:log', { 'train.learningRate': { min: 1.5e-10, max: 0.025, log: true, int: false } }],
    ['train.learningRate=1.5e1..2.5e1', { 'train.learningRate': { min: 15, max: 25, log: false, int: false } }],
    ['train.learningRate=0.25..0.75', { 'train.learningRate': { min: 0.25, max: 0.75, log: false, int: false } }],
    // A suffix that is not :log or :int makes it a list, not a range (the pattern is anchored at the end).
    ['arch=0..1:logx', { arch: ['0..1:logx'] }],
    // … and at the start: a range's minimum is the whole text before '..', so this is a list too.
    ['arch=x.y..z', { arch: ['x.y..z'] }],
  ])('%s', (text, want) => {
    expect(parseParamOption(text)).toEqual(want);
  });

  it.each<[string, string]>([
    ['arch', '--param expects key=v1,v2,… or key=min..max, got "arch"'],
    ['arch=', '--param expects key=v1,v2,… or key=min..max, got "arch="'],
    // The value must run to the end of the text: a line break is refused, never cut at.
    ['arch=mlp\ncnn', '--param expects key=v1,v2,… or key=min..max, got "arch=mlp\ncnn"'],
    ['=mlp', '--param expects key=v1,v2,… or key=min..max, got "=mlp"'],
    // Anchored at the start: a key cannot begin after a stray '='.
    ['=arch=mlp', '--param expects key=v1,v2,… or key=min..max, got "=arch=mlp"'],
    // A 300-character key is echoed as its first 120 characters, in the place and in the path.
    [`${'k'.repeat(300)}=1`, `--param ${'k'.repeat(120)}: ${'k'.repeat(120)}: Too big: expected string to have <=120 characters`],
    [`${'x'.repeat(200)}`, `--param expects key=v1,v2,… or key=min..max, got "${'x'.repeat(120)}"`],
    ['train.learningRate=2..1', '--param train.learningRate: train.learningRate: min must be ≤ max'],
    ['train.learningRate=0..1:log', '--param train.learningRate: train.learningRate: a log range needs min > 0'],
    ['train.learningRate=-1..1:log', '--param train.learningRate: train.learningRate: a log range needs min > 0'],
    ['train.epochs=1.2..1.8:int', '--param train.epochs: train.epochs: an int range needs an integer between min and max'],
    ['rounds=1,2', 'sweep parameter rounds: the sweep sets it (use --min-rounds/--max-rounds for rounds)'],
    ['runId=a', 'sweep parameter runId: the sweep sets it (use --min-rounds/--max-rounds for rounds)'],
  ])('refuses %s', (text, message) => {
    expect(thrownCodeAndMessage(() => parseParamOption(text))).toEqual(configError(message));
  });

  it('a key given twice, exactly', () => {
    expect(thrownCodeAndMessage(() => parseParamOption('arch=cnn', { arch: ['mlp'] }))).toEqual(configError('--param arch given twice'));
    // Object's own names are not "given" by an empty space: each is refused for what it is.
    expect(thrownCodeAndMessage(() => parseParamOption('__proto__=1'))).toEqual(configError('--param __proto__: __proto__: a parameter is a dotted field path like train.learningRate'));
    expect(thrownCodeAndMessage(() => parseParamOption('constructor=1')).message).toMatch(/^sweep parameter constructor: constructor: unknown field; /);
    expect(thrownCodeAndMessage(() => parseParamOption('toString=1', { arch: ['mlp'] })).message).toMatch(/^sweep parameter toString: toString: unknown field; /);
    expect(parseParamOption('arch=cnn', { sites: [2] })).toEqual({ sites: [2], arch: ['cnn'] });
  });
});

describe('a search space: each bound', () => {
  it.each<[string, unknown, boolean]>([
    ['one value', { arch: ['mlp'] }, true],
    ['no value', { arch: [] }, false],
    ['1000 values', { sites: Array.from({ length: 1000 }, (_, i) => i) }, true],
    ['1001 values', { sites: Array.from({ length: 1001 }, (_, i) => i) }, false],
    ['a 200-character string', { arch: ['x'.repeat(200)] }, true],
    ['a 201-character string', { arch: ['x'.repeat(201)] }, false],
    ['NaN', { sites: [NaN] }, false],
    ['an object value', { arch: [{}] }, false],
    ['a range with an unknown key', { 'train.learningRate': { min: 0.1, max: 1, step: 0.1 } }, false],
    ['a range min = max', { 'train.learningRate': { min: 0.1, max: 0.1 } }, true],
    ['a log range from 1e-9', { 'train.learningRate': { min: 1e-9, max: 1, log: true } }, true],
    ['an int range 1..1', { 'train.epochs': { min: 1, max: 1, int: true } }, true],
    ['a 120-character key', { [`train.${'a'.repeat(114)}`]: [1] }, 'unknown'],
    ['a 121-character key', { [`train.${'a'.repeat(115)}`]: [1] }, false],
    ['a key starting with a digit', { '1arch': [1] }, false],
    ['a key with an empty segment', { 'train..epochs': [1] }, false],
    ['a key ending in a dot', { 'train.': [1] }, false],
    ['a key with a space', { 'train. epochs': [1] }, false],
    ['a key with a leading dot', { '.train': [1] }, false],
  ] as Array<[string, unknown, boolean]>)('%s → accepted: %s', (_name, space, ok) => {
    if ((ok as unknown) === 'unknown') {
      // A well-formed key of 120 characters passes the schema and is then refused as an unknown field.
      expect(thrownCodeAndMessage(() => checkSearchSpace(space, 'S')).message).toMatch(/^sweep parameter train\.a+: .*unknown field/);
      return;
    }
    let accepted = true;
    try {
      checkSearchSpace(space, 'S');
    } catch (e) {
      accepted = false;
      expect((e as { code?: string }).code).toBe('config');
    }
    expect(accepted).toBe(ok);
  });

  it('a range keeps its defaults: log and int false', () => {
    expect(checkSearchSpace({ 'train.learningRate': { min: 0.1, max: 1 } }, 'S')).toEqual({ 'train.learningRate': { min: 0.1, max: 1, log: false, int: false } });
  });

  it('names the place of a mistake, "(top level)" when it is the whole space', () => {
    expect(thrownCodeAndMessage(() => checkSearchSpace('lots', 'W')).message).toMatch(/^W: \(top level\): /);
    expect(thrownCodeAndMessage(() => checkSearchSpace({ 'train.epochs': [] }, 'W')).message).toMatch(/^W: train\.epochs: /);
    // A malformed key says what a key must look like (zod reports only "Invalid key in record" at the top).
    expect(thrownCodeAndMessage(() => checkSearchSpace({ 'a b': [1] }, 'W')).message).toBe('W: a b: a parameter is a dotted field path like train.learningRate');
    expect(thrownCodeAndMessage(() => checkSearchSpace({ [`train.${'a'.repeat(115)}`]: [1] }, 'W')).message).toMatch(/^W: train\.a+: Too big: expected string to have <=120 characters$/);
  });

  it('every simulation option is a parameter; a run-config field is; an unknown field is not, with the list', () => {
    for (const key of SIMULATION_PARAMS) {
      expect(isSimulationParam(key)).toBe(true);
      expect(() => checkParamKey(key)).not.toThrow();
    }
    expect([...SIMULATION_PARAMS]).toEqual(['arch', 'partition', 'sites', 'featureShift']);
    expect(isSimulationParam('train')).toBe(false);
    expect(() => checkParamKey('train.learningRate')).not.toThrow();
    expect(() => checkParamKey('robustness.pgdSteps')).not.toThrow();
    // Keys three deep and keys naming a whole object are fields too (the probe object is built one level per segment).
    expect(() => checkParamKey('train.adversarial.eps')).not.toThrow();
    expect(() => checkParamKey('train.adversarial')).not.toThrow();
    expect(thrownCodeAndMessage(() => checkParamKey('train.adversarial.epsx')).message).toMatch(/^sweep parameter train\.adversarial\.epsx: train\.adversarial\.epsx: unknown field \(did you mean "eps"\?\)/);
    expect(thrownCodeAndMessage(() => checkParamKey('nope')).message).toMatch(/^sweep parameter nope: .*; or a simulation option: arch, partition, sites, featureShift$/);
    expect(thrownCodeAndMessage(() => checkParamKey('train.nope.deeper')).message).toMatch(/^sweep parameter train\.nope\.deeper: /);
    // The whole list of known fields, never cut short (it was clipped at 400 characters, mid-name).
    const unknownTop = thrownCodeAndMessage(() => checkParamKey('nope')).message;
    expect(unknownTop).toContain(`nope: unknown field; known fields: ${Object.keys(RunConfig.shape).join(', ')}; or a simulation option:`);
  });

  it('isRange tells a range from a list', () => {
    expect(isRange({ min: 0, max: 1, log: false, int: false })).toBe(true);
    expect(isRange([0, 1])).toBe(false);
  });
});

describe('combineSpaces', () => {
  it('merges the file and the --params; either alone is a space', () => {
    expect(combineSpaces({ arch: ['mlp'] }, { sites: [2] })).toEqual({ arch: ['mlp'], sites: [2] });
    expect(combineSpaces({ arch: ['mlp'] }, undefined)).toEqual({ arch: ['mlp'] });
    expect(combineSpaces(undefined, { sites: [2] })).toEqual({ sites: [2] });
  });

  it('refuses a key in both and an empty space, exactly', () => {
    expect(thrownCodeAndMessage(() => combineSpaces({ arch: ['mlp'] }, { arch: ['cnn'] }))).toEqual(configError('sweep parameter arch is both in the --space file and a --param'));
    expect(thrownCodeAndMessage(() => combineSpaces({}, {}))).toEqual(configError('a sweep needs a search space: --space FILE or --param key=v1,v2'));
  });
});

describe('loadSearchSpaceFile', () => {
  const dir = tempDir('sweep-space-exact-');
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads .JSON as JSON and anything else as YAML', () => {
    expect(loadSearchSpaceFile(file('upper.JSON', '{"params":{"arch":["cnn"]}}'))).toEqual({ arch: ['cnn'] });
    expect(loadSearchSpaceFile(file('space.yml', 'params:\n  sites: [2, 3]\n'))).toEqual({ sites: [2, 3] });
  });

  it.each<[string, string, RegExp]>([
    ['bad.json', '{"params": ', /^.*bad\.json: not valid JSON: [^\n]+$/],
    ['bad.yaml', 'params: [a, b\n  c: {', /^.*bad\.yaml: not valid YAML: [^\n]+$/],
    ['extra.yaml', 'params:\n  arch: [cnn]\nmore: 1\n', /^.*extra\.yaml: \(top level\): /],
    ['empty-list.yaml', 'params:\n  arch: []\n', /^.*empty-list\.yaml: params\.arch: /],
  ])('%s: one clear line', (name, text, message) => {
    const got = thrownCodeAndMessage(() => loadSearchSpaceFile(file(name, text)));
    expect(got.code).toBe('config');
    expect(got.message).toMatch(message);
  });

  it('a JSON parse error is clipped to its first line and 200 characters', () => {
    const got = thrownCodeAndMessage(() => loadSearchSpaceFile(file('long.json', `{"params": ${'['.repeat(5000)}`)));
    const reason = got.message.split('not valid JSON: ')[1];
    expect(reason.length).toBeLessThanOrEqual(200);
    expect(reason.length).toBeGreaterThan(0);
  });

  it('JSON keeps JSON\'s meaning (a repeated key: the last wins), where YAML refuses it, on its first line only', () => {
    const text = '{"params":{"arch":["cnn"]},"params":{"arch":["mlp"]}}';
    expect(loadSearchSpaceFile(file('dup.json', text))).toEqual({ arch: ['mlp'] });
    const yaml = file('dup.yaml', text);
    // yaml's message runs over three more lines (the source line and a caret): only the first is kept.
    expect(thrownCodeAndMessage(() => loadSearchSpaceFile(yaml))).toEqual(configError(`${yaml}: not valid YAML: Map keys must be unique at line 1, column 28:`));
  });

  it('a YAML error whose first line is long is clipped to 200 characters', () => {
    const path = file('alias.yaml', `params: *${'a'.repeat(300)}\n`);
    const reason = 'Unresolved alias (the anchor must be set before the alias): ';
    expect(thrownCodeAndMessage(() => loadSearchSpaceFile(path))).toEqual(configError(`${path}: not valid YAML: ${`${reason}${'a'.repeat(300)}`.slice(0, 200)}`));
  });

  it('a __proto__ key in the file is refused, not left out (in JSON and in YAML)', () => {
    for (const [name, text] of [['proto.json', '{"params":{"__proto__":[1],"arch":["mlp"]}}'], ['proto.yaml', 'params:\n  __proto__: [1]\n  arch: [mlp]\n']]) {
      const path = file(name, text);
      expect(thrownCodeAndMessage(() => loadSearchSpaceFile(path)), name).toEqual(configError(`${path}: __proto__: a parameter is a dotted field path like train.learningRate`));
    }
  });

  it('a 1,000-character key in the file (YAML refuses longer implicit keys) is echoed as 120 characters of its path', () => {
    const path = file('long-key.yaml', `params:\n  ${'k'.repeat(1000)}: [1]\n`);
    const got = thrownCodeAndMessage(() => loadSearchSpaceFile(path));
    expect(got).toEqual(configError(`${path}: ${`params.${'k'.repeat(1000)}`.slice(0, 120)}: Too big: expected string to have <=120 characters`));
  });

  it('a YAML alias bomb is refused (at most 100 aliases)', () => {
    const anchors = ['a: &a [x, x]', ...Array.from({ length: 6 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)];
    const got = thrownCodeAndMessage(() => loadSearchSpaceFile(file('bomb.yaml', `${anchors.join('\n')}\nparams:\n  arch: [cnn]\n`)));
    expect(got.message).toMatch(/bomb\.yaml: not valid YAML: /);
  });

  it('a missing file and a directory: cannot read it, "no such file" only for the missing one', () => {
    expect(thrownCodeAndMessage(() => loadSearchSpaceFile(join(dir, 'missing.yaml')))).toEqual(configError(`${join(dir, 'missing.yaml')}: cannot read the search space: no such file`));
    const sub = join(dir, 'a-directory');
    mkdirSync(sub, { recursive: true });
    expect(thrownCodeAndMessage(() => loadSearchSpaceFile(sub))).toEqual(configError(`${sub}: cannot read the search space: ${sub} is a directory, not a search space file`));
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    expect(thrownCodeAndMessage(() => loadSearchSpaceFile(join(dir, 'pipe.yaml')))).toEqual(configError(`${join(dir, 'pipe.yaml')}: cannot read the search space: ${join(dir, 'pipe.yaml')} is not a regular file (a pipe, socket or device): a search space must be a file`));
  });
});
