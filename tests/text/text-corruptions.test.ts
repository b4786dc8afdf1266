import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildVocabulary, casing, charDrop, charInsert, charSubstitute, charSwap, DEFAULT_TEXT_SEVERITIES, evaluateTextRobustness, getArchitecture, getTextCorruption,
  SeededRandom, TEXT_CORRUPTIONS, textCorruptionNames, TextRobustnessReportSchema, TextTokenizer, whitespace, wordDropout, wordInsertion, type TextCorruption,
} from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

/** Levenshtein distance (two rows). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

const ctx = (seed = 1, words: string[] = ['zz']) => ({ rng: new SeededRandom(seed), words });
const TEXT = 'Free money now, click here';

describe('text corruptions: exact effects', () => {
  it.each(TEXT_CORRUPTIONS.map((c) => [c.name, c] as const))('%s at rate 0 returns the text unchanged (whitespace normalised for word corruptions)', (_, c) => {
    const out = c.apply(TEXT, 0, ctx());
    expect(out).toBe(TEXT);
  });

  it.each<[TextCorruption, string, string]>([
    [charSwap, 'abcd efg', 'badc feg'],
    [charDrop, 'abc de', ' '],
    [casing, 'Free MONEY now', 'fREE money NOW'],
    [whitespace, 'a b\tc\n d', 'abcd'.replace(/./g, (ch) => ch)],
    [wordDropout, 'one two  three', ''],
    [wordInsertion, 'one two', 'one zz two zz'],
  ])('%s at rate 1: %j → %j', (c, text, expected) => {
    // whitespace at rate 1: each gap is removed or changed, so only the words' characters are certain.
    if (c === whitespace) expect(c.apply(text, 1, ctx()).replace(/\s/g, '')).toBe(expected);
    else expect(c.apply(text, 1, ctx())).toBe(expected);
  });

  it('char-insert at rate 1 puts one letter after every non-space character', () => {
    const out = charInsert.apply('abc de', 1, ctx());
    expect(out).toHaveLength(11);
    expect([out[0], out[2], out[4], out[6], out[7], out[9]].join('')).toBe('abc de');
    for (const i of [1, 3, 5, 8, 10]) expect(out[i]).toMatch(/[a-z]/);
  });

  it('char-substitute at rate 1 changes every non-space character to another letter, keeps spaces and length', () => {
    const out = charSubstitute.apply('aaaa bbbb', 1, ctx());
    expect(out).toHaveLength(9);
    expect(out[4]).toBe(' ');
    for (const [i, ch] of [...out].entries()) if (i !== 4) expect(ch).toMatch(i < 4 ? /[b-z]/ : /[ac-z]/);
  });

  it('swaps never cross a space and a swapped pair is not swapped again', () => {
    expect(charSwap.apply('ab c', 1, ctx())).toBe('ba c');
    expect(charSwap.apply('abc', 1, ctx())).toBe('bac');
  });

  it('whitespace at rate 1 removes about half the gaps and turns the others into tab, newline or double space', () => {
    const text = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
    const out = whitespace.apply(text, 1, ctx(5));
    const kept = out.match(/\s+/g) ?? [];
    expect(kept.length).toBeGreaterThan(150);
    expect(kept.length).toBeLessThan(250);
    for (const gap of kept) expect(['  ', '\t', '\n', ' \n ']).toContain(gap);
  });

  it.each(TEXT_CORRUPTIONS.filter((c) => c !== casing).map((c) => [c.name, c] as const))('%s: the same seed gives the same text, another seed another; its rate sets how much changes', (_, c) => {
    const text = Array.from({ length: 200 }, (_, i) => `word${i % 17}`).join(' ');
    const a = c.apply(text, 0.2, ctx(3));
    expect(c.apply(text, 0.2, ctx(3))).toBe(a);
    expect(c.apply(text, 0.2, ctx(4))).not.toBe(a);
    const changed = (rate: number) => editDistance(c.apply(text, rate, ctx(3)), text);
    expect(changed(0.05)).toBeLessThan(changed(0.4));
  });

  it('casing with a seed flips about the rate of words', () => {
    const text = Array.from({ length: 1000 }, () => 'word').join(' ');
    const flipped = casing.apply(text, 0.2, ctx(9)).split(' ').filter((w) => w === 'WORD').length;
    expect(flipped).toBeGreaterThan(150);
    expect(flipped).toBeLessThan(250);
  });

  it('word insertion draws from the vocabulary words and refuses an empty vocabulary', () => {
    const out = wordInsertion.apply('a b c d e f g h', 1, ctx(2, ['x', 'y']));
    expect(out.split(' ').filter((_, i) => i % 2 === 1).every((w) => w === 'x' || w === 'y')).toBe(true);
    expect(() => wordInsertion.apply('a', 1, ctx(2, []))).toThrow(/needs a vocabulary/);
  });

  it('the registry lists eight corruptions by name; an unknown name is a config error listing them', () => {
    expect(textCorruptionNames()).toEqual(['char-swap', 'char-drop', 'char-insert', 'char-substitute', 'casing', 'whitespace', 'word-dropout', 'word-insertion']);
    expect(getTextCorruption('casing')).toBe(casing);
    expect(() => getTextCorruption('leet')).toThrow(/unknown text corruption "leet" \(known: char-swap/);
  });
});

describe('evaluateTextRobustness', () => {
  // A model whose prediction is "does the text contain the word 'spam'": embedding of 'spam' is large, conv picks it up.
  const texts = Array.from({ length: 40 }, (_, i) => (i % 2 ? `this is spam offer number ${i}` : `hello friend meeting at ${i}`));
  const labels = Int32Array.from(texts, (_, i) => i % 2);
  const data = { texts, labels, classNames: ['ham', 'spam'] };
  const tokenizer = new TextTokenizer(buildVocabulary(texts, { size: 60, sequenceLength: 8 }));
  let model: tf.LayersModel;

  beforeAll(async () => {
    await selectNodeBackend('wasm');
    model = getArchitecture('text-cnn').build({ inputShape: [8], numClasses: 2, seed: 1, vocabularySize: tokenizer.size });
    model.compile({ optimizer: tf.train.adam(0.02), loss: (y: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, p) });
    const ds = tokenizer.toDataset(data);
    const x = tf.tensor2d(ds.x, [40, 8]);
    const y = tf.oneHot(tf.tensor1d(ds.y, 'int32'), 2);
    await model.fit(x, y, { epochs: 60, batchSize: 40, verbose: 0 });
    tf.dispose([x, y]);
  });

  it('reports clean and per-corruption, per-severity accuracy; deterministic; leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const r = await evaluateTextRobustness(model, data, tokenizer, { seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(TextRobustnessReportSchema.parse(r)).toEqual(r);
    expect(r.examples).toBe(40);
    expect(r.clean.accuracy).toBe(1);
    expect(r.corruptions.map((c) => c.name)).toEqual(textCorruptionNames());
    for (const c of r.corruptions) expect(c.severities.map((s) => s.severity)).toEqual([...DEFAULT_TEXT_SEVERITIES]);
    // The tokenizer lowercases: casing never changes a prediction.
    expect(r.corruptions.find((c) => c.name === 'casing')!.severities.map((s) => s.accuracy)).toEqual([1, 1, 1, 1]);
    // Some corruption at some severity costs accuracy.
    expect(r.worst!.accuracy).toBeLessThan(1);
    const cells = r.corruptions.flatMap((c) => c.severities.map((s) => s.accuracy));
    expect(r.meanCorruptedAccuracy).toBeCloseTo(cells.reduce((a, b) => a + b, 0) / cells.length, 12);
    expect(r.worst!.accuracy).toBe(Math.min(...cells));
    expect(r.substitution).toBeUndefined();
    expect(await evaluateTextRobustness(model, data, tokenizer, { seed: 3 })).toEqual(r);
  });

  it('examples, corruptions and severities choose what runs; a substitution attack fills its section per budget', async () => {
    const budgetsSeen: number[] = [];
    const r = await evaluateTextRobustness(model, data, tokenizer, {
      examples: 10,
      corruptions: ['char-drop'],
      severities: [0, 1],
      substitution: {
        budgets: [0, 2],
        attack: (_m, ids, attacked, budgets) => {
          expect(ids).toHaveLength(10 * 8);
          expect(attacked).toHaveLength(10);
          budgetsSeen.push(...budgets);
          return budgets.map((budget) => (budget === 0 ? 1 : 0.25));
        },
      },
    });
    expect(r.examples).toBe(10);
    expect(r.corruptions.map((c) => c.name)).toEqual(['char-drop']);
    expect(r.corruptions[0]!.severities[0]!.accuracy).toBe(1);
    // Every character dropped: every text is all padding, one class for all.
    expect(r.corruptions[0]!.severities[1]!.accuracy).toBeLessThanOrEqual(0.6);
    expect(r.substitution).toEqual({ budgets: [{ budget: 0, accuracy: 1 }, { budget: 2, accuracy: 0.25 }] });
    expect(budgetsSeen).toEqual([0, 2]);
  });

  it.each<[string, object, RegExp]>([
    ['examples 0', { examples: 0 }, /positive integer/],
    ['a severity above 1', { severities: [1.5] }, /rate in \[0, 1\]/],
    ['a negative severity', { severities: [-0.1] }, /rate in \[0, 1\]/],
    ['an unknown corruption', { corruptions: ['nope'] }, /unknown text corruption/],
  ])('refuses %s', async (_, options, message) => {
    await expect(evaluateTextRobustness(model, data, tokenizer, options)).rejects.toThrow(message);
  });
});
