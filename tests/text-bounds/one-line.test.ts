import { describe, expect, it } from 'vitest';
import { MAX_QUOTED_CHARS, oneLine } from '@fedtune/shared';

/**
 * oneLine (shared/src/text/one-line.ts): peer text for one line of a log, a console or a report. Every run of
 * control characters — C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F) — becomes one space; the
 * printable characters around those ranges stay; then the text is clipped like clipText.
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
  ])('%s', (_name, text, expected) => {
    expect(oneLine(text)).toBe(expected);
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
