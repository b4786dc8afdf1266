import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  canonicalHash,
  checkModelInstruction,
  checkModelVocabulary,
  FedtuneError,
  labelOnlySplits,
  ModelTextSection,
  ModelTopology,
  modelTextSectionOf,
  parseVocabulary,
  splitDataset,
  splitTextDataset,
  tokenizeTextSplits,
  vocabularyHashOf,
  vocabularyOfTextSection,
  type RunTerms,
  type TextDataset,
} from '@fedtune/shared';
import { pretrainedSpamModelDir, readModelText, runTermsOf, RunConfig } from '@fedtune/coordinator';
import { readVocabulary } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { terms } from '../policy/terms-fixture.ts';

const section = { vocabulary: ['<pad>', '<unk>', 'free', 'money', 'meeting'], sequenceLength: 4 };
const topology = { class_name: 'Sequential', config: { layers: [] } };
const textTerms = (vocabularyHash?: string): RunTerms =>
  terms((t) => {
    t.model.topologyHash = canonicalHash(topology);
    t.model.parameters = 0; // the empty model below
    if (vocabularyHash) t.model.vocabularyHash = vocabularyHash;
  });
const model = (text?: ModelTextSection) => ({ runId: 'run-1', modelVersion: 0, topology, manifest: [], ...(text ? { text } : {}) });

describe('the vocabulary is part of the terms: checkModelVocabulary / checkModelInstruction', () => {
  const hash = vocabularyHashOf(section);
  const cases: Array<[string, ModelTextSection | undefined, string | undefined, RegExp | null]> = [
    ['no text model, no vocabulary in the terms', undefined, undefined, null],
    ['the vocabulary of the terms', section, hash, null],
    ['another vocabulary (one word changed)', { ...section, vocabulary: [...section.vocabulary.slice(0, 4), 'meetings'] }, hash, /the model's vocabulary \([0-9a-f]{16}…\) is not the one of the terms \([0-9a-f]{16}…\)/],
    ['the same words, another sequence length', { ...section, sequenceLength: 5 }, hash, /is not the one of the terms/],
    ['a vocabulary the terms do not name', section, undefined, /comes with a vocabulary \([0-9a-f]{16}…\) the terms do not name/],
    ['no vocabulary though the terms name one', undefined, hash, new RegExp(`comes without the vocabulary of the terms \\(${hash.slice(0, 16)}…\\)`)],
  ];
  it.each(cases)('%s', (_name, text, vocabularyHash, expected) => {
    const t = textTerms(vocabularyHash);
    for (const reason of [checkModelVocabulary({ text }, t), checkModelInstruction(ModelTopology.parse(model(text)), t)]) {
      if (expected === null) expect(reason).toBeUndefined();
      else expect(reason).toMatch(expected);
    }
  });

  it('a topology that departs from the terms is named first, before the vocabulary', () => {
    const reason = checkModelInstruction(ModelTopology.parse({ ...model(section), topology: { other: 1 } }), textTerms(hash));
    expect(reason).toMatch(/the model topology/);
  });

  it('the hash is the sha-256 of the canonical JSON of the text section', () => {
    expect(hash).toBe(canonicalHash({ sequenceLength: 4, vocabulary: section.vocabulary }));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the text section of the model message is bounded (ModelTopology.text)', () => {
  const words = (n: number) => ['<pad>', '<unk>', ...Array.from({ length: n - 2 }, (_, i) => `w${i}`)];
  const rows: Array<[string, unknown, boolean]> = [
    ['a small vocabulary', section, true],
    ['50,000 tokens', { vocabulary: words(50_000), sequenceLength: 8 }, true],
    ['50,001 tokens', { vocabulary: words(50_001), sequenceLength: 8 }, false],
    ['3 tokens', { vocabulary: words(3), sequenceLength: 8 }, true],
    ['2 tokens', { vocabulary: words(2), sequenceLength: 8 }, false],
    ['a token of 64 characters', { vocabulary: [...section.vocabulary, 'x'.repeat(64)], sequenceLength: 4 }, true],
    ['a token of 65 characters', { vocabulary: [...section.vocabulary, 'x'.repeat(65)], sequenceLength: 4 }, false],
    ['an empty token', { vocabulary: [...section.vocabulary, ''], sequenceLength: 4 }, false],
    ['a token that is not a string', { vocabulary: [...section.vocabulary, 7], sequenceLength: 4 }, false],
    ['sequence length 1', { ...section, sequenceLength: 1 }, true],
    ['sequence length 0', { ...section, sequenceLength: 0 }, false],
    ['sequence length 2000', { ...section, sequenceLength: 2000 }, true],
    ['sequence length 2001', { ...section, sequenceLength: 2001 }, false],
    ['a fractional sequence length', { ...section, sequenceLength: 4.5 }, false],
    ['a non-finite sequence length', { ...section, sequenceLength: Number.POSITIVE_INFINITY }, false],
    ['an extra field', { ...section, lowercase: false }, false],
  ];
  it.each(rows)('%s', (_name, text, ok) => {
    expect(ModelTopology.safeParse(model(text as ModelTextSection)).success).toBe(ok);
  });

  it('a model message without a text section is still valid', () => {
    expect(ModelTopology.parse(model()).text).toBeUndefined();
  });
});

describe('the site turns the received section into its vocabulary', () => {
  it('round-trips a vocab.json', () => {
    const vocabulary = parseVocabulary({ kind: 'fedtune-word-vocabulary', version: 1, sequenceLength: 4, tokens: section.vocabulary });
    expect(modelTextSectionOf(vocabulary)).toEqual(section);
    expect(vocabularyOfTextSection(section)).toEqual(vocabulary);
  });

  it.each([
    ['without <pad> and <unk> first', { vocabulary: ['free', '<pad>', '<unk>'], sequenceLength: 4 }, /must start with <pad> and <unk>/],
    ['with a word twice', { vocabulary: ['<pad>', '<unk>', 'free', 'free'], sequenceLength: 4 }, /lists the token "free" twice/],
    ['with a word longer than the tokenizer makes', { vocabulary: ['<pad>', '<unk>', 'x'.repeat(64)], sequenceLength: 4 }, /the run's vocabulary is not a fedtune word vocabulary/],
  ])('refuses a section %s with one clear error', (_name, bad, message) => {
    expect(() => vocabularyOfTextSection(bad)).toThrow(message);
  });
});

describe('a text site keeps its raw texts until the model brings a vocabulary', () => {
  const data: TextDataset = { texts: Array.from({ length: 20 }, (_, i) => (i % 2 ? `free money ${i}` : `meeting at ${i}`)), labels: Int32Array.from({ length: 20 }, (_, i) => i % 2), classNames: ['ham', 'spam'] };

  it('splits texts exactly as splitDataset splits examples of the same size and seed', () => {
    const texts = splitTextDataset(data, 11);
    const ids = splitDataset({ x: Float32Array.from({ length: 20 }, (_, i) => i), y: data.labels, featureShape: [1], numClasses: 2 }, 11);
    for (const part of ['train', 'validation', 'test'] as const) {
      expect(texts[part].texts).toEqual(Array.from(ids[part].x, (i) => data.texts[i]));
      expect(Array.from(texts[part].labels)).toEqual(Array.from(ids[part].y));
      expect(texts[part].classNames).toEqual(['ham', 'spam']);
    }
    expect([texts.train.texts.length, texts.validation.texts.length, texts.test.texts.length]).toEqual([16, 2, 2]);
  });

  it('refuses texts and labels of different lengths', () => {
    expect(() => splitTextDataset({ ...data, labels: new Int32Array(3) }, 1)).toThrow(/20 texts but 3 labels/);
  });

  it('counts labels before the model: labelOnlySplits has the labels and no features', () => {
    const splits = splitTextDataset(data, 3);
    const counts = labelOnlySplits(splits);
    expect(Array.from(counts.train.y)).toEqual(Array.from(splits.train.labels));
    expect(counts.train.x.length).toBe(0);
    expect(counts.train.featureShape).toEqual([0]);
    expect(counts.test.numClasses).toBe(2);
    expect(counts.validation.y.length).toBe(2);
  });

  it('tokenizes with the received vocabulary: known words to their id, others to <unk>, padded', () => {
    const splits = splitTextDataset(data, 3);
    const tokenized = tokenizeTextSplits(splits, section, "site-1's data");
    expect(tokenized.train.featureShape).toEqual([4]);
    expect(tokenized.train.numClasses).toBe(2);
    const i = splits.train.texts.findIndex((t) => t.startsWith('free money'));
    expect(Array.from(tokenized.train.x.subarray(i * 4, i * 4 + 4))).toEqual([2, 3, 1, 0]);
    const j = splits.train.texts.findIndex((t) => t.startsWith('meeting'));
    expect(Array.from(tokenized.train.x.subarray(j * 4, j * 4 + 4))).toEqual([4, 1, 1, 0]);
    expect(Array.from(tokenized.test.y)).toEqual(Array.from(splits.test.labels));
  });

  it('a model without a vocabulary (an image model) is one clear data error', () => {
    const err = (() => {
      try {
        tokenizeTextSplits(splitTextDataset(data, 3), undefined, "site-1's data");
      } catch (e) {
        return e as FedtuneError;
      }
    })();
    expect(err).toBeInstanceOf(FedtuneError);
    expect(err!.code).toBe('data');
    expect(err!.message).toBe("site-1's data is text, but the run's model comes without a vocabulary (not a text model): this site cannot train it");
  });
});

describe('the coordinator sends the vocabulary of its model directory and pins it in the terms', () => {
  it('readModelText: the committed spam model has one, a directory without vocab.json none', () => {
    const text = readModelText(pretrainedSpamModelDir())!;
    const vocabulary = readVocabulary(pretrainedSpamModelDir());
    expect(text.vocabulary).toEqual(vocabulary.tokens);
    expect(text.sequenceLength).toBe(vocabulary.sequenceLength);
    expect(readModelText(tempDir())).toBeUndefined();
  });

  it('readModelText: a broken vocab.json is one line naming it', () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vocab.json'), '{"kind":');
    expect(() => readModelText(dir)).toThrow(new RegExp(`${join(dir, 'vocab.json')} is not valid JSON`));
  });

  it('runTermsOf: vocabularyHash with a text model, none without', () => {
    const config = RunConfig.parse({ runId: 'terms-1' });
    const base = { architecture: 'text-cnn', topology, manifest: [], initialWeights: [] };
    expect(runTermsOf(config, { ...base, text: section }, 'ab'.repeat(32)).model.vocabularyHash).toBe(vocabularyHashOf(section));
    expect('vocabularyHash' in runTermsOf(config, base, 'ab'.repeat(32)).model).toBe(false);
  });
});
