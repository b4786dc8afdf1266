import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deepMerge, explainIssue, type Issue, loadRunConfigFile, MAX_RUN_CONFIG_BYTES, mergeRunConfig, parseRunConfigText, unknownRunConfigFields } from '../../coordinator/src/config/run-config-file.ts';
import { thrown } from '../helpers/thrown.ts';
import { tempDir } from './helpers.ts';

// A run configuration from outside, exactly (mutation module run-config-input): each message a user reads for a
// file or a body (with the file's line and column where YAML gives one), the cause kept, the format told from the
// name or the text, hostile shapes (a string where an object goes, an alias bomb, inherited keys), and where a bad
// value came from when the file and the flags merge.
const refusal = (fn: () => unknown) => {
  const err = thrown(fn);
  expect(err.code).toBe('config');
  return err;
};

describe('parseRunConfigText: each refusal, exactly', () => {
  it.each([
    ['JSON with a syntax error, at its line and column', '{\n  "rounds": 3,\n}', 'c.json', 'c.json:3:1: not valid JSON: Expected double-quoted property name in JSON at position 17'],
    ['JSON cut short', '{"rounds": 3', 'c.json', "c.json:1:13: not valid JSON: Expected ',' or '}' after property value in JSON at position 12"],
    ['an object where a number goes (no unknown field inside it)', '{"rounds": {"a": 1}}', 'c.json', 'c.json: rounds: expected number, received object (got {"a":1})'],
    ['a string where an object goes (never its characters as fields)', '{"train": "abc"}', 'c.json', 'c.json: train: expected object, received string (got "abc")'],
    ['a union: every option named', '{"train": {"trainable": "x"}}', 'c.json', 'c.json: train.trainable: expected one of: "all" | "head" | number (got "x")'],
    ['a value of 61 characters, cut to 57 and "..."', JSON.stringify({ train: { trainable: 'x'.repeat(59) } }), 'c.json', `c.json: train.trainable: expected one of: "all" | "head" | number (got "${'x'.repeat(56)}...)`],
    ['a value of 60 characters, whole', JSON.stringify({ train: { trainable: 'x'.repeat(58) } }), 'c.json', `c.json: train.trainable: expected one of: "all" | "head" | number (got "${'x'.repeat(58)}")`],
    ['a YAML field at its line and column', 'rounds: 3\ntrain:\n  epochs: -1\n', 'c.yaml', 'c.yaml:3:11: train.epochs: Too small: expected number to be >=1 (got -1)'],
    ['a field the file leaves out, without a position', 'dp:\n  noiseMultiplier: 1\n', 'c.yaml', 'c.yaml: dp.clip: expected number, received undefined (got nothing)'],
    ['an unknown field inside an object with a default ({} prefault)', 'stragglers:\n  waitAfterQuorumMz: 3\n', 'c.yaml', 'c.yaml:2:22: stragglers.waitAfterQuorumMz: unknown field (did you mean "waitAfterQuorumMs"?); known fields: waitAfterQuorumMs, maxCooldownRounds'],
    ['a list at the top', '- 1\n', 'c.yaml', 'c.yaml: a run configuration must be a mapping of fields (got a list)'],
    ['YAML in a .json file is read as JSON', 'rounds: 3', 'c.json', 'c.json: not valid JSON: Unexpected token \'r\', "rounds: 3" is not valid JSON'],
    ['an empty .json file (no position to give)', '', 'c.json', 'c.json: not valid JSON: Unexpected end of JSON input'],
    ['a JSON error on line 1 of 4: the line and column of the position', '{"rounds": 3,,\n\n\n}', 'c.json', 'c.json:1:14: not valid JSON: Expected double-quoted property name in JSON at position 13'],
  ])('%s', (_n, text, path, message) => {
    expect(refusal(() => parseRunConfigText(text, path)).message).toBe(message);
  });

  it('keeps what failed as the cause: the JSON error, the YAML error, zod\'s; none for unknown fields alone', () => {
    expect(refusal(() => parseRunConfigText('{"rounds": 3', 'c.json')).cause).toBeInstanceOf(SyntaxError);
    expect(refusal(() => parseRunConfigText('{"rounds": -1}', 'c.json')).cause).toMatchObject({ name: 'ZodError' });
    expect('cause' in refusal(() => parseRunConfigText('{"roundz": 3}', 'c.json'))).toBe(false);
  });

  it('an alias bomb (billion laughs) is refused in one line, not expanded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]', ''].join('\n');
    const err = refusal(() => parseRunConfigText(bomb, 'c.yaml'));
    expect(err.message).toBe('c.yaml: not valid YAML: Excessive alias count indicates a resource exhaustion attack');
    expect(err.cause).toBeInstanceOf(Error);
  });
});

describe('parseRunConfigText: what it reads', () => {
  it.each([
    ['c.JSON', '{"rounds": 3}', 'json'],
    ['c.json', '{"rounds": 3}', 'json'],
    ['c.yml', 'rounds: 3', 'yaml'],
    ['c.yml', '{"rounds": 3}', 'yaml'],
    ['c.YAML', 'rounds: 3', 'yaml'],
    ['c.yaml', '{rounds: 3}', 'yaml'],
    ['c', '  {"rounds": 3}', 'json'],
    ['c.txt', 'rounds: 3', 'yaml'],
  ])('%s holding %j is %s', (path, text, format) => {
    const file = parseRunConfigText(text, path);
    expect(file.format).toBe(format);
    expect(file.values).toEqual({ rounds: 3 });
  });

  it('a byte-order mark first is skipped; an empty or comment-only YAML file is no fields', () => {
    expect(parseRunConfigText('\ufeff{"rounds": 3}', 'c.json').values).toEqual({ rounds: 3 });
    expect(parseRunConfigText('\ufeffrounds: 3\n', 'c.yaml').values).toEqual({ rounds: 3 });
    expect(parseRunConfigText('', 'c.yaml').values).toEqual({});
    expect(parseRunConfigText('# nothing yet\n', 'c.yaml').values).toEqual({});
    expect(parseRunConfigText('null', 'c.json').values).toEqual({});
  });

  it('a YAML file locates its fields; a path it lacks has no position', () => {
    const file = parseRunConfigText('rounds: 3\ntrain:\n  epochs: 2\n', 'c.yaml');
    expect(file.locate(['train', 'epochs'])).toEqual({ line: 3, col: 11 });
    expect(file.locate(['train', 'batchSize'])).toBeUndefined();
    expect(file.locate(['nothing', 'here'])).toBeUndefined();
  });
});

describe('unknownRunConfigFields and deepMerge: hostile shapes', () => {
  it('inherited keys are not the body\'s fields; null inside is no object to look into', () => {
    expect(unknownRunConfigFields(Object.create({ inherited: 1 }))).toEqual([]);
    expect(unknownRunConfigFields({ train: null } as never)).toEqual([]);
    expect(unknownRunConfigFields({ train: 'abc' } as never)).toEqual([]);
  });

  it('merges objects key by key; anything else replaces; undefined and non-objects are skipped', () => {
    expect(deepMerge(null, { a: 1 }, [1, 2], 'x', { b: { c: 1 } }, { b: undefined }, { a: { x: 1 } }, { b: { d: 2 } })).toEqual({ a: { x: 1 }, b: { c: 1, d: 2 } });
    expect(deepMerge({ a: { b: 1 } }, { a: 5 })).toEqual({ a: 5 });
    expect(deepMerge({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });
});

describe('mergeRunConfig: where a bad value came from', () => {
  it.each([
    ['a flag, unnamed', undefined, { runId: 'x', rounds: -1 }, {}, 'command line: rounds: Too small: expected number to be >=1 (got -1)'],
    ['a flag, by its name', undefined, { runId: 'x', rounds: -1 }, { flagNames: { rounds: '--rounds' } }, 'command line --rounds: rounds: Too small: expected number to be >=1 (got -1)'],
    ['a required field, unnamed', undefined, {}, {}, 'runId: required (set "runId" in the config file or on the command line)'],
    ['a required field, by its flag', undefined, {}, { flagNames: { runId: '--run-id' } }, 'runId: required (set "runId" in the config file or pass --run-id)'],
    ['values (not a file), nested fields the flags do not reach', { runId: 'x', rounds: -1, train: { epochs: -1 } }, {}, {}, 'config: rounds: Too small: expected number to be >=1 (got -1); config: train.epochs: Too small: expected number to be >=1 (got -1)'],
  ])('%s', (_n, file, flags, options, lines) => {
    expect(refusal(() => mergeRunConfig(file as never, flags as never, options)).message).toBe(`invalid run configuration: ${lines}`);
  });

  it('a file: its line and column (YAML) or its path (JSON)', () => {
    const yaml = parseRunConfigText('runId: a\nrounds: 3\n', 'c.yaml');
    (yaml.values as { rounds: number }).rounds = -5;
    expect(refusal(() => mergeRunConfig(yaml)).message).toBe('invalid run configuration: c.yaml:2:9: rounds: Too small: expected number to be >=1 (got -5)');
    const json = parseRunConfigText('{"runId": "a", "rounds": 3}', 'c.json');
    (json.values as { rounds: number }).rounds = -5;
    expect(refusal(() => mergeRunConfig(json)).message).toBe('invalid run configuration: c.json: rounds: Too small: expected number to be >=1 (got -5)');
  });

  it('values with a field named locate are values, not a loaded file', () => {
    expect(mergeRunConfig({ locate: 5, runId: 'x' } as never).runId).toBe('x');
  });
});

describe('loadRunConfigFile', () => {
  it('a missing file, a directory, a file past the limit: each its own line, code config', () => {
    const dir = tempDir();
    const missing = join(dir, 'none.yaml');
    expect(refusal(() => loadRunConfigFile(missing)).message).toBe(`${missing}: cannot read the run configuration: no such file`);
    const sub = join(dir, 'sub.yaml');
    mkdirSync(sub);
    expect(refusal(() => loadRunConfigFile(sub)).message).toMatch(/run configuration/);
    expect(refusal(() => loadRunConfigFile(sub)).message).not.toMatch(/no such file/);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(MAX_RUN_CONFIG_BYTES)}\n`);
    const tooBig = refusal(() => loadRunConfigFile(big));
    expect(tooBig.message).toMatch(/run configuration/);
    expect(tooBig.message).not.toMatch(/no such file/);
  });
});

describe('explainIssue: a zod issue as the end of a line', () => {
  const explained = (schema: z.ZodType, value: unknown) => (schema.safeParse(value).error!.issues as unknown as Issue[]).map(explainIssue);
  it.each([
    ['a union names every option, an enum\'s values each', z.union([z.enum(['a', 'b']), z.number()]), 'x', ['expected one of: "a" | "b" | number']],
    ['a type, without zod\'s "Invalid input: "', z.number(), 'x', ['expected number, received string']],
    ['a union whose option failed inside (an object\'s field): zod\'s own words', z.union([z.object({ a: z.number() }), z.number()]), { a: 'x' }, ['Invalid input']],
    ['a field a strict object does not know', z.object({ a: z.number() }).strict(), { a: 1, b: 2 }, ['Unrecognized key: "b"']],
    ['a bound', z.array(z.number()).min(2), [1], ['Too small: expected array to have >=2 items']],
  ])('%s', (_n, schema, value, lines) => {
    expect(explained(schema, value)).toEqual(lines);
  });
});
