import { describe, expect, it } from 'vitest';
import { hasControlCharacters, MAX_QUOTED_CHARS, oneLine } from '@fedtune/shared';

/**
 * oneLine (shared/src/text/one-line.ts): peer text for one line of a log, a console or a report. Every run of
 * control characters — C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F), the bidi formatting characters
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and U+2028/U+2029 — becomes one space; the printable
 * characters around those ranges stay; then the text is clipped like clipText.
 */
describe('oneLine', () => {
  it.each([
    ['a newline (a forged log line)', 'ok\nFAKE line', 'ok FAKE line'],
    ['CR LF and a tab in one run', 'a\r\n\tb', 'a b'],
    ['an ANSI escape (clear the screen)', 'x\u001b[2Jy', 'x [2Jy'],
    ['an OSC 52 clipboard write', '\u001b]52;c;aGk=\u0007done', ' ]52;c;aGk= done'],
    ['U+0000 and U+001F, the ends of C0', '\u0000a\u001f', ' a '],
    ['DEL', 'a\u007fb', 'a b'],
    ['C1: U+0080 and U+009F (CSI as one character: U+009B)', 'a\u0080b\u009bc\u009fd', 'a b c d'],
    ['two runs stay two spaces', 'a\n\nb\u0085c', 'a b c'],
    // Bidi formatting characters (audit: they passed, and reordered report and console lines) and line separators.
    ['U+202E RIGHT-TO-LEFT OVERRIDE (a name shown reversed)', 'site-\u202Egnp.exe', 'site- gnp.exe'],
    ['U+202A–U+202E, one run', 'a\u202a\u202b\u202c\u202d\u202eb', 'a b'],
    ['U+2066–U+2069 isolates', 'a\u2066b\u2067c\u2068d\u2069e', 'a b c d e'],
    ['U+200E LRM and U+200F RLM', 'a\u200eb\u200fc', 'a b c'],
    ['U+061C ARABIC LETTER MARK', 'a\u061cb', 'a b'],
    ['U+2028 LINE SEPARATOR (a forged line)', 'ok\u2028FAKE line', 'ok FAKE line'],
    ['U+2029 PARAGRAPH SEPARATOR', 'ok\u2029FAKE', 'ok FAKE'],
    ['bidi, separators and C0 in one run', 'a\u202e\u2028\n\u2066b', 'a b'],
  ])('%s', (_name, text, expected) => {
    expect(oneLine(text)).toBe(expected);
  });

  // Every code point of the replaced ranges, one at a time, and the neighbours of each range kept.
  const replaced = [[0x0000, 0x001f], [0x007f, 0x009f], [0x061c, 0x061c], [0x200e, 0x200f], [0x2028, 0x202e], [0x2066, 0x2069]];
  it.each(replaced)('U+%s…: every code point of the range becomes a space', (lo, hi) => {
    for (let cp = lo; cp <= hi; cp++) expect(oneLine(`a${String.fromCodePoint(cp)}b`), cp.toString(16)).toBe('a b');
    expect(hasControlCharacters(String.fromCodePoint(lo))).toBe(true);
  });
  it.each([0x061b, 0x061d, 0x200d, 0x2010, 0x2027, 0x202f, 0x2065, 0x206a])('U+%s (next to a range) stays', (cp) => {
    const text = `a${String.fromCodePoint(cp)}b`;
    expect(oneLine(text)).toBe(text);
    expect(hasControlCharacters(text)).toBe(false);
  });

  it('keeps the printable characters next to the ranges: space, ~, NBSP, and non-Latin text', () => {
    const kept = ' ~\u00a0é中\u{1f600}';
    expect(oneLine(kept)).toBe(kept);
  });

  it('clips after replacing, at MAX_QUOTED_CHARS by default or at max', () => {
    expect(oneLine('z'.repeat(MAX_QUOTED_CHARS))).toBe('z'.repeat(MAX_QUOTED_CHARS));
    expect(oneLine('z'.repeat(MAX_QUOTED_CHARS + 1))).toBe(`${'z'.repeat(MAX_QUOTED_CHARS)}… (1 more characters)`);
    expect(oneLine('ab\ncd', 4)).toBe('ab c… (1 more characters)');
    // A run of controls counts as the one space it becomes.
    expect(oneLine('a\n\n\n\nb', 3)).toBe('a b');
  });
});
