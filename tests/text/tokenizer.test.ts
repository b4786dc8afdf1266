import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildVocabulary, FedtuneError, MAX_WORD_CHARS, PAD_ID, parseVocabulary, SPAM_TASK, TextTokenizer, UNK_ID, VOCABULARY_LIMITS, wordTokens } from '@fedtune/shared';
import { builtinSpam, readVocabulary, hasVocabulary } from '@fedtune/shared/node';
import { pretrainedSpamModelDir } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

describe('wordTokens', () => {
  it.each([
    ['Hello,  WORLD! Don\'t', ['hello', 'world', "don't"]],
    ['FREE $$$ money!!! 100% now', ['free', 'money', '100', 'now']],
    ["'quoted' o'clock x'", ['quoted', "o'clock", 'x']],
    ['Ünïcode Straße', ['ünïcode', 'straße']],
    ['<pad> <unk>', ['pad', 'unk']],
    ['', []],
    ['  \n\t ', []],
  ])('%j → %j', (text, words) => expect(wordTokens(text)).toEqual(words));

  it(`cuts words longer than ${MAX_WORD_CHARS} characters`, () => {
    expect(wordTokens('a'.repeat(MAX_WORD_CHARS + 5))).toEqual(['a'.repeat(MAX_WORD_CHARS)]);
    expect(wordTokens('b'.repeat(MAX_WORD_CHARS))).toEqual(['b'.repeat(MAX_WORD_CHARS)]);
  });
});

describe('buildVocabulary', () => {
  const texts = ['the cat sat', 'the dog sat', 'The THE the zebra'];

  it('is <pad>, <unk>, then words by count (ties in code-unit order), cut to size', () => {
    // counts: the 5, sat 2, cat 1, dog 1, zebra 1
    expect(buildVocabulary(texts, { size: 6, sequenceLength: 4 }).tokens).toEqual(['<pad>', '<unk>', 'the', 'sat', 'cat', 'dog']);
    expect(buildVocabulary(texts, { size: 100, sequenceLength: 4 }).tokens).toEqual(['<pad>', '<unk>', 'the', 'sat', 'cat', 'dog', 'zebra']);
    expect(buildVocabulary(texts, { size: 3, sequenceLength: 4 }).tokens).toEqual(['<pad>', '<unk>', 'the']);
  });

  it('does not depend on the order of the texts', () => {
    expect(buildVocabulary([...texts].reverse(), { size: 6, sequenceLength: 4 })).toEqual(buildVocabulary(texts, { size: 6, sequenceLength: 4 }));
  });

  it.each([2, 0, -1, 2.5, VOCABULARY_LIMITS.maxSize + 1])('refuses size %s with a config error', (size) => {
    expect(() => buildVocabulary(texts, { size, sequenceLength: 4 })).toThrow(FedtuneError);
  });

  it('accepts the smallest and largest sizes', () => {
    expect(buildVocabulary(texts, { size: VOCABULARY_LIMITS.minSize, sequenceLength: 1 }).tokens).toHaveLength(3);
    expect(() => buildVocabulary(texts, { size: VOCABULARY_LIMITS.maxSize, sequenceLength: VOCABULARY_LIMITS.maxSequenceLength })).not.toThrow();
  });
});

describe('TextTokenizer', () => {
  const tokenizer = new TextTokenizer(buildVocabulary(['the cat sat', 'the dog sat', 'the'], { size: 6, sequenceLength: 5 }));
  // ids: <pad> 0, <unk> 1, the 2, sat 3, cat 4, dog 5

  it('maps words to their ids, unknown words to UNK and pads with PAD', () => {
    expect([PAD_ID, UNK_ID]).toEqual([0, 1]);
    expect([...tokenizer.encode('The CAT sat on'), ]).toEqual([2, 4, 3, 1, 0]);
    expect([...tokenizer.encode('')]).toEqual([0, 0, 0, 0, 0]);
    expect([...tokenizer.encode('<pad> <unk>')]).toEqual([1, 1, 0, 0, 0]);
  });

  it('truncates to the sequence length', () => {
    expect([...tokenizer.encode('dog dog cat cat sat sat the')]).toEqual([5, 5, 4, 4, 3]);
    expect([...tokenizer.encode('dog dog cat cat sat')]).toEqual([5, 5, 4, 4, 3]);
  });

  it('turns a text dataset into token ids (featureShape [sequenceLength], float32 ids exact)', () => {
    const ds = tokenizer.toDataset({ texts: ['cat', 'dog sat'], labels: Int32Array.from([1, 0]), classNames: ['a', 'b'] });
    expect(ds.featureShape).toEqual([5]);
    expect(ds.numClasses).toBe(2);
    expect([...ds.x]).toEqual([4, 0, 0, 0, 0, 5, 3, 0, 0, 0]);
    expect([...ds.y]).toEqual([1, 0]);
    expect([tokenizer.size, tokenizer.sequenceLength]).toEqual([6, 5]);
  });

  it('refuses texts and labels of different lengths', () => {
    expect(() => tokenizer.toDataset({ texts: ['a'], labels: Int32Array.from([0, 1]), classNames: ['a', 'b'] })).toThrow(/1 texts but 2 labels/);
  });
});

describe('vocabulary files', () => {
  const valid = { kind: 'fedtune-word-vocabulary', version: 1, sequenceLength: 4, tokens: ['<pad>', '<unk>', 'a'] };

  it.each<[string, unknown, RegExp]>([
    ['not an object', 'words', /not a fedtune word vocabulary/],
    ['wrong kind', { ...valid, kind: 'bpe' }, /kind/],
    ['sequence length 0', { ...valid, sequenceLength: 0 }, /sequenceLength/],
    ['sequence length too long', { ...valid, sequenceLength: VOCABULARY_LIMITS.maxSequenceLength + 1 }, /sequenceLength/],
    ['too few tokens', { ...valid, tokens: ['<pad>', '<unk>'] }, /tokens/],
    ['an empty token', { ...valid, tokens: ['<pad>', '<unk>', ''] }, /tokens/],
    ['no <pad> first', { ...valid, tokens: ['<unk>', '<pad>', 'a'] }, /must start with <pad> and <unk>/],
    ['a token twice', { ...valid, tokens: ['<pad>', '<unk>', 'a', 'a'] }, /lists the token "a" twice/],
    ['an extra field', { ...valid, extra: 1 }, /not a fedtune word vocabulary/],
  ])('refuses %s', (_, value, message) => {
    expect(() => parseVocabulary(value)).toThrow(message);
  });

  it('reads vocab.json from a model directory; a missing or broken file names the file', () => {
    const dir = tempDir();
    expect(hasVocabulary(dir)).toBe(false);
    expect(() => readVocabulary(dir)).toThrow(`no vocabulary at ${join(dir, 'vocab.json')}`);
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'vocab.json'), '{"kind":');
    expect(() => readVocabulary(join(dir, 'broken'))).toThrow(`${join(dir, 'broken', 'vocab.json')} is not valid JSON`);
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(valid));
    expect(readVocabulary(dir)).toEqual(valid);
  });

  it('the committed spam vocabulary is the one the source slice gives, and only words of the source slice', () => {
    const committed = readVocabulary(pretrainedSpamModelDir());
    const { source } = builtinSpam();
    expect(committed).toEqual(buildVocabulary(source.texts, { size: SPAM_TASK.vocabularySize, sequenceLength: SPAM_TASK.sequenceLength }));
    expect(committed.tokens).toHaveLength(SPAM_TASK.vocabularySize);
    const sourceWords = new Set(source.texts.flatMap(wordTokens));
    for (const t of committed.tokens.slice(2)) expect(sourceWords.has(t)).toBe(true);
  });
});
