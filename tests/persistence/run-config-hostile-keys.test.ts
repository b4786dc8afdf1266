import { describe, expect, it } from 'vitest';
import { parseRunConfigText, unknownRunConfigFields } from '@fedtune/coordinator';
import { editDistance, MAX_UNKNOWN_FIELDS, spellingHint } from '../../coordinator/src/config/run-config-file.ts';
import { checkParamKey } from '../../cli/src/sweep/search-space.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * The unknown-field check of a run configuration (a file, `POST /api/runs`, a sweep's parameter) against keys
 * chosen to hurt it: Object's own property names (they were taken for schema fields and crashed the walk with a
 * TypeError), a key of 900 KB (its spelling hint cost length × field name: tens of seconds), tens of thousands of
 * keys (one message line each), each in JSON and YAML.
 */

describe('Object\'s own names are unknown fields, not schema fields', () => {
  it.each([
    ['constructor', '{"constructor": {"a": 1}}', 'x.json: constructor: unknown field; known fields: runId, rounds,'],
    ['toString, nested', '{"train": {"toString": {"a": 1}}}', 'x.json: train.toString: unknown field; known fields: epochs, batchSize,'],
    ['hasOwnProperty', '{"hasOwnProperty": 1}', 'x.json: hasOwnProperty: unknown field; known fields: runId,'],
    ['valueOf, nested deeper', '{"train": {"adversarial": {"valueOf": {"b": 2}}}}', 'x.json: train.adversarial.valueOf: unknown field; known fields: method,'],
    ['__proto__ in YAML', '__proto__:\n  rounds: 3\n', 'x.yaml:2:3: __proto__: unknown field; known fields: runId,'],
  ])('%s', (_name, text, start) => {
    const path = text.startsWith('{') ? 'x.json' : 'x.yaml';
    const got = thrownCodeAndMessage(() => parseRunConfigText(text, path));
    expect(got.code).toBe('config');
    expect(got.message.startsWith(start)).toBe(true);
  });

  it('a sweep parameter naming one is refused the same way', () => {
    expect(thrownCodeAndMessage(() => checkParamKey('train.toString'))).toMatchObject({ code: 'config', message: expect.stringMatching(/^sweep parameter train\.toString: train\.toString: unknown field; known fields: epochs,/) });
    expect(thrownCodeAndMessage(() => checkParamKey('constructor')).message).toMatch(/^sweep parameter constructor: constructor: unknown field; /);
  });
});

describe('many and long keys', () => {
  it(`reports at most ${MAX_UNKNOWN_FIELDS} unknown fields, in the order given, nested ones counted`, () => {
    const values: Record<string, unknown> = { train: { a0: 1, a1: 1 } };
    for (let i = 0; i < 60_000; i++) values[`k${i}`] = 1;
    const got = unknownRunConfigFields(values);
    expect(MAX_UNKNOWN_FIELDS).toBe(20);
    expect(got.map((line) => line.split(':')[0])).toEqual(['train.a0', 'train.a1', ...Array.from({ length: 18 }, (_, i) => `k${i}`)]);
    expect(unknownRunConfigFields({ a: 1, b: 2 })).toHaveLength(2);
    const file = thrownCodeAndMessage(() => parseRunConfigText(JSON.stringify(values), 'x.json')).message;
    // One line: the problems joined with "; ".
    expect(file).not.toContain('\n');
    expect(file.match(/; x\.json: k\d+: unknown field/g)).toHaveLength(18);
  });

  it('a key is echoed as its first 120 characters, at every level', () => {
    const long = 'k'.repeat(900_000);
    expect(unknownRunConfigFields({ [long]: 1 })).toEqual([expect.stringMatching(new RegExp(`^${'k'.repeat(120)}: unknown field; known fields: runId, `))]);
    expect(unknownRunConfigFields({ train: { [long]: 1 } })[0]).toMatch(new RegExp(`^train\\.${'k'.repeat(120)}: unknown field; known fields: epochs, `));
    expect(unknownRunConfigFields({ ['r'.repeat(121)]: 1 })[0].split(':')[0]).toHaveLength(120);
    expect(unknownRunConfigFields({ ['r'.repeat(120)]: 1 })[0].split(':')[0]).toHaveLength(120);
  });
});

describe('the spelling hint', () => {
  it.each<[string, string, number]>([
    ['', '', 0],
    ['rounds', 'rounds', 0],
    ['ROUNDS', 'rounds', 0],
    ['round', 'rounds', 1],
    ['rounds', 'round', 1],
    ['rnuods', 'rounds', 2],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['flaw', 'lawn', 2],
  ])('distance(%j, %j) = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it.each<[string, string[], string]>([
    ['round', ['rounds', 'seed'], ' (did you mean "rounds"?)'],
    // Within max(2, ⌊length / 3⌋): 2 edits for short keys …
    ['rnds', ['rounds'], ' (did you mean "rounds"?)'],
    ['rnd', ['rounds'], ''],
    // … a third of a longer key's length.
    ['minsitesxyz', ['minSites'], ' (did you mean "minSites"?)'],
    ['minsitesxyzwv', ['minSites'], ''],
    // The nearest wins; on a tie the first known field.
    ['seeds', ['seed', 'steps'], ' (did you mean "seed"?)'],
    ['ab', ['ax', 'ay'], ' (did you mean "ax"?)'],
    ['anything', [], ''],
    // No hint past 64 characters, however near (none of the schema's names is that long).
    [`${'a'.repeat(64)}`, [`${'a'.repeat(63)}b`], ` (did you mean "${'a'.repeat(63)}b"?)`],
    [`${'a'.repeat(65)}`, [`${'a'.repeat(64)}b`], ''],
  ])('%j among %j → %j', (key, known, hint) => {
    expect(spellingHint(key, known)).toBe(hint);
  });
});
