import { FedtuneError } from '../../errors.ts';
import type { SeededRandom } from '../../random/seeded-random.ts';

/** What a text corruption may use besides the text: the seeded generator and the vocabulary's words. */
export interface TextCorruptionContext {
  rng: SeededRandom;
  /** Words a word insertion draws from (the model's vocabulary without <pad> and <unk>). */
  words: readonly string[];
}

/**
 * One perturbation of raw text (before tokenization), as a plain config object registered in
 * TEXT_CORRUPTIONS. `apply(text, rate, ctx)` returns a perturbed copy; `rate` in [0, 1] is the probability of
 * the perturbation at each place it can happen (a character, a word, a whitespace run): rate 0 returns the
 * text unchanged.
 */
export interface TextCorruption {
  readonly name: string;
  readonly description: string;
  apply(text: string, rate: number, ctx: TextCorruptionContext): string;
}

/** The default severities (rates) every text corruption is evaluated at. */
export const DEFAULT_TEXT_SEVERITIES = [0.05, 0.1, 0.2, 0.4] as const;

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function isSpace(ch: string): boolean {
  return /\s/.test(ch);
}

/** A letter a–z other than `ch` (lowercase), drawn uniformly. */
function otherLetter(ch: string, rng: SeededRandom): string {
  const lower = ch.toLowerCase();
  const choices = LETTERS.includes(lower) ? LETTERS.replace(lower, '') : LETTERS;
  return choices[rng.int(choices.length)]!;
}

/** Each non-space character is swapped with the next one (if that is not a space) with probability `rate`; a swapped pair is not swapped again. */
export const charSwap: TextCorruption = {
  name: 'char-swap',
  description: 'typos: adjacent characters swapped, each with probability p',
  apply(text, rate, { rng }) {
    const chars = [...text];
    for (let i = 0; i + 1 < chars.length; i++) {
      if (isSpace(chars[i]!) || isSpace(chars[i + 1]!)) continue;
      if (rng.next() < rate) {
        [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
        i++;
      }
    }
    return chars.join('');
  },
};

/** Each non-space character is deleted with probability `rate`. */
export const charDrop: TextCorruption = {
  name: 'char-drop',
  description: 'typos: characters deleted, each with probability p',
  apply(text, rate, { rng }) {
    return [...text].filter((ch) => isSpace(ch) || !(rng.next() < rate)).join('');
  },
};

/** After each non-space character, a random letter a–z is inserted with probability `rate`. */
export const charInsert: TextCorruption = {
  name: 'char-insert',
  description: 'typos: a random letter inserted after each character with probability p',
  apply(text, rate, { rng }) {
    let out = '';
    for (const ch of text) {
      out += ch;
      if (!isSpace(ch) && rng.next() < rate) out += LETTERS[rng.int(LETTERS.length)];
    }
    return out;
  },
};

/** Each non-space character is replaced by a different random letter a–z with probability `rate`. */
export const charSubstitute: TextCorruption = {
  name: 'char-substitute',
  description: 'typos: characters replaced by another letter, each with probability p',
  apply(text, rate, { rng }) {
    return [...text].map((ch) => (!isSpace(ch) && rng.next() < rate ? otherLetter(ch, rng) : ch)).join('');
  },
};

/** Each word (maximal non-space run) has its case swapped (upper ↔ lower) with probability `rate`. */
export const casing: TextCorruption = {
  name: 'casing',
  description: 'casing: each word has its letter case swapped with probability p',
  apply(text, rate, { rng }) {
    return text.replace(/\S+/g, (w) => (rng.next() < rate ? [...w].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('') : w));
  },
};

const SPACES = ['  ', '\t', '\n', ' \n '] as const;

/**
 * Each whitespace run is, with probability `rate`, either removed (the words around it run together) or
 * replaced by another run of whitespace (two spaces, a tab, a newline), each half of the time.
 */
export const whitespace: TextCorruption = {
  name: 'whitespace',
  description: 'whitespace: each gap between words removed or changed (tab, newline, double space) with probability p',
  apply(text, rate, { rng }) {
    return text.replace(/\s+/g, (gap) => {
      if (!(rng.next() < rate)) return gap;
      return rng.next() < 0.5 ? '' : SPACES[rng.int(SPACES.length)]!;
    });
  },
};

/** Each word is deleted with probability `rate` (words joined by single spaces). */
export const wordDropout: TextCorruption = {
  name: 'word-dropout',
  description: 'word dropout: each word deleted with probability p',
  apply(text, rate, { rng }) {
    return text
      .split(/\s+/)
      .filter((w) => w !== '' && !(rng.next() < rate))
      .join(' ');
  },
};

/** After each word, a random vocabulary word is inserted with probability `rate`. */
export const wordInsertion: TextCorruption = {
  name: 'word-insertion',
  description: 'word insertion: a random vocabulary word inserted after each word with probability p',
  apply(text, rate, { rng, words }) {
    if (words.length === 0) throw new FedtuneError('config', 'word insertion needs a vocabulary with words');
    const out: string[] = [];
    for (const w of text.split(/\s+/)) {
      if (w === '') continue;
      out.push(w);
      if (rng.next() < rate) out.push(words[rng.int(words.length)]!);
    }
    return out.join(' ');
  },
};

/** Every text corruption, in the report's order. */
export const TEXT_CORRUPTIONS: readonly TextCorruption[] = [charSwap, charDrop, charInsert, charSubstitute, casing, whitespace, wordDropout, wordInsertion];

export function textCorruptionNames(): string[] {
  return TEXT_CORRUPTIONS.map((c) => c.name);
}

export function getTextCorruption(name: string): TextCorruption {
  const c = TEXT_CORRUPTIONS.find((t) => t.name === name);
  if (!c) throw new FedtuneError('config', `unknown text corruption "${name.slice(0, 64)}" (known: ${textCorruptionNames().join(', ')})`);
  return c;
}
