import { describe, expect, it } from 'vitest';
import { augmentTexts, TEXT_CORRUPTIONS } from '@fedtune/shared';

const data = { texts: ['free money now click here', 'meeting notes for tomorrow'], labels: Int32Array.from([1, 0]), classNames: ['ham', 'spam'] };
const options = { copies: 2, rate: 0.5, seed: 3, words: ['alpha', 'beta'] };

describe('augmentTexts', () => {
  it('keeps the texts first, then `copies` perturbed copies of each with its label', () => {
    const out = augmentTexts(data, options);
    expect(out.texts).toHaveLength(6);
    expect(out.texts.slice(0, 2)).toEqual(data.texts);
    expect([...out.labels]).toEqual([1, 0, 1, 0, 1, 0]);
    expect(out.classNames).toEqual(data.classNames);
    for (const t of out.texts.slice(2)) expect(data.texts).not.toContain(t);
  });

  it('is seeded: the same options give the same copies, another seed others', () => {
    expect(augmentTexts(data, options)).toEqual(augmentTexts(data, options));
    expect(augmentTexts(data, { ...options, seed: 4 }).texts.slice(2)).not.toEqual(augmentTexts(data, options).texts.slice(2));
  });

  it('draws every corruption over many copies', () => {
    const out = augmentTexts({ texts: ['Aa bb Cc dd'], labels: Int32Array.from([0]), classNames: ['x'] }, { copies: 16, rate: 1, seed: 1, words: ['zz'] });
    // rate 1: word dropout empties the text, word insertion adds "zz", casing swaps case, char-drop leaves spaces only.
    expect(out.texts).toContain('');
    expect(out.texts).toContain('Aa zz bb zz Cc zz dd zz');
    expect(out.texts).toContain('aA BB cC DD');
    expect(TEXT_CORRUPTIONS).toHaveLength(8);
  });

  it.each([
    [{ copies: 0 }, /copies must be an integer in 1..16/],
    [{ copies: 17 }, /copies must be an integer in 1..16/],
    [{ copies: 1.5 }, /copies must be an integer/],
    [{ rate: 0 }, /rate must be in \(0, 1\]/],
    [{ rate: 1.01 }, /rate must be in \(0, 1\]/],
  ])('refuses %j', (bad, message) => {
    expect(() => augmentTexts(data, { ...options, ...bad })).toThrow(message);
  });
});
