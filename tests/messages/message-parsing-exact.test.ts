import { describe, expect, it } from 'vitest';
import { ZodError, type z } from 'zod';
import {
  AcceptTerms,
  canonicalHash,
  clientToServerSchemas,
  clipText,
  isClientEvent,
  isServerEvent,
  MAX_WIRE_TOKEN_CHARS,
  MODEL_WEIGHTS_PATH,
  ModelRef,
  ModelTextSection,
  modelTextSectionOf,
  modelWeightsPath,
  parseClientMessage,
  parseServerMessage,
  RefuseTerms,
  RunTerms,
  serverToClientSchemas,
  SignedRunTerms,
  VOCABULARY_LIMITS,
  vocabularyHashOf,
  vocabularyOfTextSection,
} from '@fedtune/shared';
import { thrown } from '../helpers/thrown.ts';
import { withValue } from './with-value.ts';

/**
 * The run terms (run-terms.ts), the HTTP model reference (model-ref.ts), a text model's section
 * (model-text-section.ts) and the parsing of a peer's message (parse-message.ts), exactly: every bound at its
 * edge and just past it, every pattern's anchors, every enum member, and the reason a rejected message carries.
 * A bound that moved, a pattern that lost an anchor or a reason that changed shape fails here.
 */

/** The paths of the issues of a rejected parse, joined with "." ([] when accepted). */
function rejectedPaths(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  return result.success ? [] : [...new Set(result.error.issues.map((i) => i.path.join('.')))];
}

/** Whether the schema refuses a key it does not list (a `.strict()` object), naming the key. */
function refusesUnknownKey(schema: z.ZodType, base: object): void {
  expect(schema.safeParse({ ...base, surprise: 1 }).error?.issues).toMatchObject([{ code: 'unrecognized_keys', keys: ['surprise'], path: [] }]);
}

/** A case: what it changes, where, to what, and whether the schema accepts it. */
type Case = [label: string, path: Array<string | number>, value: unknown, accepted: boolean];

function expectCase(schema: z.ZodType, base: unknown, [, path, value, accepted]: Case): void {
  expect(rejectedPaths(schema, withValue(base, path, value))).toEqual(accepted ? [] : [path.join('.')]);
}

const hex64 = '0123456789abcdef'.repeat(4);
const hex128 = hex64 + hex64;

/** A lowercase hex field of `digits` digits: exactly that many accepted; fewer, more, uppercase or a stray character before or after rejected. */
function hexCases(path: Array<string | number>, digits: number): Case[] {
  const valid = '0123456789abcdef'.repeat(digits / 16);
  const name = path.join('.');
  return [
    [`${name}: ${digits} lowercase hex digits`, path, valid, true],
    [`${name}: one digit short`, path, valid.slice(1), false],
    [`${name}: one digit over`, path, `${valid}0`, false],
    [`${name}: uppercase`, path, valid.toUpperCase(), false],
    [`${name}: a non-hex character first`, path, `g${valid.slice(1)}`, false],
    [`${name}: a non-hex character last`, path, `${valid.slice(1)}g`, false],
    [`${name}: a stray character before`, path, `X${valid}`, false],
    [`${name}: a stray character after`, path, `${valid}\n`, false],
  ];
}

/** A bounded string field: `min` and `max` characters accepted, one fewer and one more rejected. */
function lengthCases(path: Array<string | number>, min: number, max: number, char = 'a'): Case[] {
  const name = path.join('.');
  const cases: Case[] = [
    [`${name}: ${min} characters`, path, char.repeat(min), true],
    [`${name}: ${max} characters`, path, char.repeat(max), true],
    [`${name}: ${max + 1} characters`, path, char.repeat(max + 1), false],
  ];
  if (min > 0) cases.push([`${name}: ${min - 1} characters`, path, char.repeat(min - 1), false]);
  return cases;
}

const train = { epochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam', trainable: 'all' };
const terms = {
  runId: 'run-1',
  coordinator: hex64,
  rounds: 3,
  minSites: 2,
  fraction: 0.5,
  model: { architecture: 'mlp', topologyHash: hex64, initialWeightsHash: hex64, parameters: 10, vocabularyHash: hex64 },
  train,
  maxExamplesPerSite: 1000,
  secureAggregation: { clip: 1, threshold: 2, neighbours: 3 },
  dp: { noiseMultiplier: 1.1, clip: 1, delta: 1e-5, noise: 'central' },
  federatedEvaluation: 'final',
  federatedCalibration: true,
  siteReport: {
    personalization: { mode: 'auto', epochs: 2, lambda: 0.1, validate: true, selection: 'kfold', folds: 5, selectionMargin: 1 },
    localOnlyEpochs: 3,
    robustness: { examples: 200, adversarialExamples: 100, noiseSigmas: [0.1], corruptions: true, pgdEps: [0.05], pgdSteps: 20 },
  },
  classNames: ['cat', 'dog'],
};
const signedTerms = { terms, hash: hex64, signature: hex128 };
const acceptTerms = { runId: 'run-1', siteId: 'site-1', hash: hex64 };
const refuseTerms = { runId: 'run-1', siteId: 'site-1', code: 'policy_refused', reason: 'the topology is not pinned' };
const modelRef = { path: modelWeightsPath(3), sha256: hex64, bytes: 1024 };
const textSection = { vocabulary: ['<pad>', '<unk>', 'hello', 'world'], sequenceLength: 16 };

describe('RunTerms', () => {
  it('accepts a full set of terms and keeps every field', () => {
    expect(RunTerms.parse(terms)).toEqual(terms);
  });

  const cases: Case[] = [
    ...lengthCases(['runId'], 1, 128),
    ...hexCases(['coordinator'], 64),
    ['rounds: 1', ['rounds'], 1, true],
    ['rounds: 0', ['rounds'], 0, false],
    ['minSites: 1', ['minSites'], 1, true],
    ['minSites: 0', ['minSites'], 0, false],
    ['fraction: 1', ['fraction'], 1, true],
    ['fraction: above 1', ['fraction'], 1.01, false],
    ['fraction: 0', ['fraction'], 0, false],
    ...lengthCases(['model', 'architecture'], 1, 64),
    ...hexCases(['model', 'topologyHash'], 64),
    ...hexCases(['model', 'initialWeightsHash'], 64),
    ...hexCases(['model', 'vocabularyHash'], 64),
    ['model.vocabularyHash: absent', ['model', 'vocabularyHash'], undefined, true],
    ['model.parameters: 0', ['model', 'parameters'], 0, true],
    ['model.parameters: -1', ['model', 'parameters'], -1, false],
    ['maxExamplesPerSite: 1', ['maxExamplesPerSite'], 1, true],
    ['maxExamplesPerSite: 0', ['maxExamplesPerSite'], 0, false],
    ['train: a seed (the fit instruction carries it)', ['train', 'seed'], 1, true],
    ['secureAggregation: absent', ['secureAggregation'], undefined, true],
    ['secureAggregation.clip: 0', ['secureAggregation', 'clip'], 0, false],
    ['secureAggregation.threshold: 1', ['secureAggregation', 'threshold'], 1, true],
    ['secureAggregation.threshold: 0', ['secureAggregation', 'threshold'], 0, false],
    ['secureAggregation.threshold: absent', ['secureAggregation', 'threshold'], undefined, true],
    ['secureAggregation.neighbours: 2', ['secureAggregation', 'neighbours'], 2, true],
    ['secureAggregation.neighbours: 1', ['secureAggregation', 'neighbours'], 1, false],
    ['secureAggregation.neighbours: absent', ['secureAggregation', 'neighbours'], undefined, true],
    ['dp: absent', ['dp'], undefined, true],
    ['dp.noiseMultiplier: 0', ['dp', 'noiseMultiplier'], 0, true],
    ['dp.noiseMultiplier: below 0', ['dp', 'noiseMultiplier'], -0.01, false],
    ['dp.clip: 0', ['dp', 'clip'], 0, false],
    ['dp.delta: 0', ['dp', 'delta'], 0, false],
    ['dp.delta: 1', ['dp', 'delta'], 1, false],
    ['dp.delta: just below 1', ['dp', 'delta'], 0.999, true],
    ['dp.noise: central', ['dp', 'noise'], 'central', true],
    ['dp.noise: distributed', ['dp', 'noise'], 'distributed', true],
    ['dp.noise: not a member', ['dp', 'noise'], 'local', false],
    ['dp.noise: empty', ['dp', 'noise'], '', false],
    ['federatedEvaluation: never', ['federatedEvaluation'], 'never', true],
    ['federatedEvaluation: final', ['federatedEvaluation'], 'final', true],
    ['federatedEvaluation: every-round', ['federatedEvaluation'], 'every-round', true],
    ['federatedEvaluation: not a member', ['federatedEvaluation'], 'always', false],
    ['siteReport: absent', ['siteReport'], undefined, true],
    ['siteReport: a bare true (what the terms said before 2026-12-04)', ['siteReport'], true, false],
    ['siteReport: empty', ['siteReport'], {}, true],
    ['siteReport.localOnlyEpochs: 1', ['siteReport', 'localOnlyEpochs'], 1, true],
    ['siteReport.localOnlyEpochs: 0', ['siteReport', 'localOnlyEpochs'], 0, false],
    ['siteReport.localOnlyEpochs: 100000', ['siteReport', 'localOnlyEpochs'], 100_000, true],
    ['siteReport.localOnlyEpochs: 100001', ['siteReport', 'localOnlyEpochs'], 100_001, false],
    ['siteReport.robustness.examples: 0', ['siteReport', 'robustness', 'examples'], 0, false],
    ['siteReport.personalization.mode: not a member', ['siteReport', 'personalization', 'mode'], 'all', false],
  ];
  it.each(cases)('%s', (...c) => expectCase(RunTerms, terms, c));

  it('refuses an unknown key', () => refusesUnknownKey(RunTerms, terms));

  it('refuses an unknown key in the site report, and a robustness seed there (the instruction carries it)', () => {
    expect(RunTerms.safeParse({ ...terms, siteReport: { ...terms.siteReport, extra: 1 } }).success).toBe(false);
    expect(RunTerms.safeParse({ ...terms, siteReport: { ...terms.siteReport, robustness: { ...terms.siteReport.robustness, seed: 1 } } }).success).toBe(false);
  });

  it('keeps secure aggregation and DP settings whole (optional objects are not emptied)', () => {
    const parsed = RunTerms.parse(terms);
    expect(parsed.secureAggregation).toEqual({ clip: 1, threshold: 2, neighbours: 3 });
    expect(parsed.dp).toEqual({ noiseMultiplier: 1.1, clip: 1, delta: 1e-5, noise: 'central' });
  });
});

describe('SignedRunTerms', () => {
  it('accepts signed terms and keeps every field', () => {
    expect(SignedRunTerms.parse(signedTerms)).toEqual(signedTerms);
  });

  const cases: Case[] = [...hexCases(['hash'], 64), ...hexCases(['signature'], 128), ['terms.rounds: 0', ['terms', 'rounds'], 0, false]];
  it.each(cases)('%s', (...c) => expectCase(SignedRunTerms, signedTerms, c));

  it.each([
    ['hash', ['hash'], 'expected a sha-256 hash as 64 lowercase hex digits'],
    ['signature', ['signature'], 'expected an Ed25519 signature as 128 lowercase hex digits'],
    ['terms.coordinator', ['terms', 'coordinator'], 'expected an Ed25519 public key as 64 lowercase hex digits'],
    ['terms.model.topologyHash', ['terms', 'model', 'topologyHash'], 'expected a sha-256 hash as 64 lowercase hex digits'],
  ])('says what a bad %s should be', (_, path, message) => {
    const result = SignedRunTerms.safeParse(withValue(signedTerms, path, 'abc'));
    expect(result.error?.issues.map((i) => i.message)).toEqual([message]);
  });
});

const siteIdCases: Case[] = [
  ...lengthCases(['siteId'], 1, 128, 'S'),
  ['siteId: letters, digits, ".", "_" and "-"', ['siteId'], 'Site_1.eu-west', true],
  ['siteId: a space inside', ['siteId'], 'bad id', false],
  ['siteId: a stray character before', ['siteId'], ' site-1', false],
  ['siteId: a NUL after', ['siteId'], 'site-1\u0000', false],
  ['siteId: a slash', ['siteId'], '../etc', false],
];

describe('AcceptTerms', () => {
  it('accepts an acceptance and keeps every field', () => {
    expect(AcceptTerms.parse(acceptTerms)).toEqual(acceptTerms);
  });

  const cases: Case[] = [...lengthCases(['runId'], 1, 128), ...siteIdCases, ...hexCases(['hash'], 64)];
  it.each(cases)('%s', (...c) => expectCase(AcceptTerms, acceptTerms, c));
});

describe('RefuseTerms', () => {
  it('accepts a refusal and keeps every field', () => {
    expect(RefuseTerms.parse(refuseTerms)).toEqual(refuseTerms);
  });

  const cases: Case[] = [
    ...lengthCases(['runId'], 1, 128),
    ...siteIdCases,
    ...lengthCases(['code'], 1, 64, 'c'),
    ['code: one lowercase letter then letters, digits and "_"', ['code'], 'a_1b', true],
    ['code: empty', ['code'], '', false],
    ['code: an uppercase letter first', ['code'], 'Xpolicy', false],
    ['code: a digit first', ['code'], '1policy', false],
    ['code: "_" first', ['code'], '_policy', false],
    ['code: a stray character after', ['code'], 'policy-refused', false],
    ['code: uppercase after the first letter', ['code'], 'poliCy', false],
    ...lengthCases(['reason'], 0, 2000),
  ];
  it.each(cases)('%s', (...c) => expectCase(RefuseTerms, refuseTerms, c));
});

describe('ModelRef', () => {
  it('accepts a reference and keeps every field', () => {
    expect(ModelRef.parse(modelRef)).toEqual(modelRef);
  });

  it.each([0, 1, 9, 10, 42, 1234567890, 9_999_999_999])('modelWeightsPath(%i) is the path MODEL_WEIGHTS_PATH accepts', (version) => {
    expect(modelWeightsPath(version)).toBe(`/api/v1/models/${version}/weights`);
    expect(MODEL_WEIGHTS_PATH.test(modelWeightsPath(version))).toBe(true);
    expect(ModelRef.safeParse({ ...modelRef, path: modelWeightsPath(version) }).success).toBe(true);
  });

  const cases: Case[] = [
    ['path: an 11-digit version', ['path'], '/api/v1/models/12345678901/weights', false],
    ['path: a leading zero', ['path'], '/api/v1/models/01/weights', false],
    ['path: a negative version', ['path'], '/api/v1/models/-1/weights', false],
    ['path: a letter in the version', ['path'], '/api/v1/models/1a/weights', false],
    ['path: no version', ['path'], '/api/v1/models//weights', false],
    ['path: another host first', ['path'], 'https://evil.example/api/v1/models/1/weights', false],
    ['path: a stray character before', ['path'], 'x/api/v1/models/1/weights', false],
    ['path: a stray character after', ['path'], '/api/v1/models/1/weights/', false],
    ['path: a query after', ['path'], '/api/v1/models/1/weights?x=1', false],
    ['path: another route', ['path'], '/api/v1/models/1/topology', false],
    ...hexCases(['sha256'], 64),
    ['bytes: 8', ['bytes'], 8, true],
    ['bytes: 7', ['bytes'], 7, false],
    ['bytes: 2^32', ['bytes'], 2 ** 32, true],
    ['bytes: 2^32 + 1', ['bytes'], 2 ** 32 + 1, false],
    ['bytes: not an integer', ['bytes'], 8.5, false],
  ];
  it.each(cases)('%s', (...c) => expectCase(ModelRef, modelRef, c));

  it('says what a bad sha256 should be', () => {
    expect(ModelRef.safeParse({ ...modelRef, sha256: 'abc' }).error?.issues.map((i) => i.message)).toEqual(['expected a sha-256 hash as 64 lowercase hex digits']);
  });
});

describe('ModelTextSection', () => {
  it('accepts a text section and keeps every field', () => {
    expect(ModelTextSection.parse(textSection)).toEqual(textSection);
  });

  /** A vocabulary of `size` distinct tokens. */
  const tokens = (size: number): string[] => Array.from({ length: size }, (_, i) => `t${i}`);
  const cases: Case[] = [
    [`vocabulary: ${VOCABULARY_LIMITS.minSize} tokens`, ['vocabulary'], tokens(VOCABULARY_LIMITS.minSize), true],
    [`vocabulary: ${VOCABULARY_LIMITS.minSize - 1} tokens`, ['vocabulary'], tokens(VOCABULARY_LIMITS.minSize - 1), false],
    [`vocabulary: ${VOCABULARY_LIMITS.maxSize} tokens`, ['vocabulary'], tokens(VOCABULARY_LIMITS.maxSize), true],
    [`vocabulary: ${VOCABULARY_LIMITS.maxSize + 1} tokens`, ['vocabulary'], tokens(VOCABULARY_LIMITS.maxSize + 1), false],
    ...lengthCases(['vocabulary', 2], 1, MAX_WIRE_TOKEN_CHARS),
    [`sequenceLength: ${VOCABULARY_LIMITS.minSequenceLength}`, ['sequenceLength'], VOCABULARY_LIMITS.minSequenceLength, true],
    [`sequenceLength: ${VOCABULARY_LIMITS.minSequenceLength - 1}`, ['sequenceLength'], VOCABULARY_LIMITS.minSequenceLength - 1, false],
    [`sequenceLength: ${VOCABULARY_LIMITS.maxSequenceLength}`, ['sequenceLength'], VOCABULARY_LIMITS.maxSequenceLength, true],
    [`sequenceLength: ${VOCABULARY_LIMITS.maxSequenceLength + 1}`, ['sequenceLength'], VOCABULARY_LIMITS.maxSequenceLength + 1, false],
    ['sequenceLength: not an integer', ['sequenceLength'], 1.5, false],
  ];
  it.each(cases)('%s', (...c) => expectCase(ModelTextSection, textSection, c));

  it('refuses an unknown key', () => refusesUnknownKey(ModelTextSection, textSection));

  it('the bounds are the ones the docs state: 3..50,000 tokens of at most 64 characters, 1..2,000 ids per text', () => {
    expect([VOCABULARY_LIMITS.minSize, VOCABULARY_LIMITS.maxSize, MAX_WIRE_TOKEN_CHARS]).toEqual([3, 50_000, 64]);
    expect([VOCABULARY_LIMITS.minSequenceLength, VOCABULARY_LIMITS.maxSequenceLength]).toEqual([1, 2_000]);
  });
});

describe('text section helpers', () => {
  const vocabulary = { kind: 'fedtune-word-vocabulary' as const, version: 1 as const, sequenceLength: 16, tokens: ['<pad>', '<unk>', 'hello', 'world'] };

  it('modelTextSectionOf sends a copy of the tokens and the sequence length', () => {
    const section = modelTextSectionOf(vocabulary);
    expect(section).toEqual(textSection);
    expect(section.vocabulary).not.toBe(vocabulary.tokens);
  });

  it('vocabularyOfTextSection turns a received section back into the vocabulary', () => {
    expect(vocabularyOfTextSection(textSection)).toEqual(vocabulary);
  });

  it("vocabularyOfTextSection refuses a section without <pad> and <unk> first, naming it the run's vocabulary", () => {
    const error = thrown(() => vocabularyOfTextSection({ ...textSection, vocabulary: ['hello', 'world', '<pad>', '<unk>'] }));
    expect(error.code).toBe('config');
    expect(error.message).toBe("the run's vocabulary must start with <pad> and <unk>");
  });

  it('vocabularyHashOf is the canonical hash of the section, and changes with it', () => {
    expect(vocabularyHashOf(textSection)).toMatch(/^[0-9a-f]{64}$/);
    expect(vocabularyHashOf(textSection)).toBe(canonicalHash(textSection));
    expect(vocabularyHashOf({ ...textSection, sequenceLength: 17 })).not.toBe(vocabularyHashOf(textSection));
  });
});

describe('parseClientMessage and parseServerMessage', () => {
  it('return the parsed payload of a known event', () => {
    expect(parseClientMessage('acceptTerms', acceptTerms)).toEqual(acceptTerms);
    expect(parseClientMessage('refuseTerms', refuseTerms)).toEqual(refuseTerms);
    expect(parseServerMessage('terms', signedTerms)).toEqual(signedTerms);
  });

  it.each([
    ['client', 'nope', () => parseClientMessage('nope' as never, acceptTerms), 'unknown client event "nope"'],
    ['server', 'nope', () => parseServerMessage('nope' as never, signedTerms), 'unknown server event "nope"'],
    ['client', 'a server event', () => parseClientMessage('terms' as never, signedTerms), 'unknown client event "terms"'],
    ['server', 'a client event', () => parseServerMessage('acceptTerms' as never, acceptTerms), 'unknown server event "acceptTerms"'],
    ['client', 'an inherited name', () => parseClientMessage('toString' as never, {}), 'unknown client event "toString"'],
    ['server', 'an inherited name', () => parseServerMessage('__proto__' as never, {}), 'unknown server event "__proto__"'],
    ['client', 'a number', () => parseClientMessage(42 as never, {}), 'unknown client event "42"'],
    ['server', 'an array naming an event', () => parseServerMessage(['terms'] as never, signedTerms), 'unknown server event "an array of 1"'],
    ['client', 'a quote and a control character', () => parseClientMessage('a"\n' as never, {}), 'unknown client event "a\\"\\n"'],
    ['client', 'a long name', () => parseClientMessage('e'.repeat(100) as never, {}), `unknown client event "${'e'.repeat(64)}… (36 more characters)"`],
  ])('a %s message with %s as its event is malformed_payload', (_, __, parse, message) => {
    const error = thrown(parse);
    expect(error.code).toBe('malformed_payload');
    expect(error.message).toBe(message);
  });

  it('an invalid payload is malformed_payload, listing each issue as "path: message" joined by "; ", with the zod error as the cause', () => {
    const payload = { ...acceptTerms, runId: '', siteId: 'bad id' };
    const issues = AcceptTerms.safeParse(payload).error!.issues;
    expect(issues.map((i) => i.path.join('.'))).toEqual(['runId', 'siteId']);
    const error = thrown(() => parseClientMessage('acceptTerms', payload));
    expect(error.code).toBe('malformed_payload');
    expect(error.message).toBe(`invalid "acceptTerms" payload: runId: ${issues[0]!.message}; siteId: ${issues[1]!.message}`);
    expect(error.cause).toBeInstanceOf(ZodError);
    expect((error.cause as ZodError).issues).toEqual(issues);
  });

  it('a nested issue is named by its dotted path', () => {
    const error = thrown(() => parseServerMessage('terms', withValue(signedTerms, ['terms', 'model', 'topologyHash'], 'abc')));
    expect(error.message).toBe('invalid "terms" payload: terms.model.topologyHash: expected a sha-256 hash as 64 lowercase hex digits');
  });

  it('an issue with the payload itself is named (root)', () => {
    const message = AcceptTerms.safeParse(null).error!.issues[0]!.message;
    const error = thrown(() => parseClientMessage('acceptTerms', null));
    expect(error.code).toBe('malformed_payload');
    expect(error.message).toBe(`invalid "acceptTerms" payload: (root): ${message}`);
  });

  it('lists at most the first 5 issues', () => {
    const payload = { ...signedTerms, terms: {} };
    const issues = SignedRunTerms.safeParse(payload).error!.issues;
    expect(issues.length).toBeGreaterThan(5);
    const listed = issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(thrown(() => parseServerMessage('terms', payload)).message).toBe(`invalid "terms" payload: ${listed.join('; ')}`);
  });

  it("clips an issue's message to 200 characters, whatever the peer put in it", () => {
    const payload = withValue(signedTerms, ['terms', 'k'.repeat(1000)], 1);
    const message = SignedRunTerms.safeParse(payload).error!.issues[0]!.message;
    expect(message.length).toBeGreaterThan(1000);
    const reason = thrown(() => parseServerMessage('terms', payload)).message;
    expect(reason).toBe(`invalid "terms" payload: terms: ${clipText(message, 200)}`);
    expect(reason).toMatch(/… \(\d+ more characters\)$/);
  });
});

describe('isClientEvent and isServerEvent', () => {
  it.each(Object.keys(clientToServerSchemas))('%s is a client event, not a server event', (event) => {
    expect(isClientEvent(event)).toBe(true);
    expect(isServerEvent(event)).toBe(false);
  });

  it.each(Object.keys(serverToClientSchemas))('%s is a server event, not a client event', (event) => {
    expect(isServerEvent(event)).toBe(true);
    expect(isClientEvent(event)).toBe(false);
  });

  it.each([
    ['an unknown name', 'nope'],
    ['the empty name', ''],
    ['a known name in another case', 'Hello'],
    ['an inherited name', 'toString'],
    ['an inherited name', '__proto__'],
    ['an inherited name', 'constructor'],
    ['an inherited name', 'hasOwnProperty'],
  ])('%s (%s) is neither', (_, event) => {
    expect(isClientEvent(event)).toBe(false);
    expect(isServerEvent(event)).toBe(false);
  });

  // A non-string whose property key is a known event name: only the typeof check refuses it.
  it.each([
    ['an array holding the name', (name: string) => [name]],
    ['an object whose toString gives the name', (name: string) => ({ toString: () => name })],
    ['a number', () => 42],
    ['null', () => null],
    ['undefined', () => undefined],
  ])('%s is neither', (_, of) => {
    expect(isClientEvent(of('hello') as never)).toBe(false);
    expect(isServerEvent(of('terms') as never)).toBe(false);
  });
});
