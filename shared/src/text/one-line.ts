import { clipText, MAX_QUOTED_CHARS } from './clip-text.ts';

/**
 * A control character: what a line of peer text may not hold. C0, DEL and C1; the bidirectional formatting
 * characters, which reorder the text shown around them (U+061C ALM, U+200E LRM, U+200F RLM, U+202A–U+202E
 * embeddings and overrides, U+2066–U+2069 isolates: "Trojan Source"); and the line and paragraph separators
 * U+2028 and U+2029, which break a line where a reader (or a JavaScript string literal before ES2019) sees one.
 */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
/** Runs of control characters, for `replace`. */
const CONTROL_RUNS = new RegExp(`${CONTROL_CHARACTER.source}+`, 'g');

/** Whether `text` holds a control character. */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}

/** `text` with every run of control characters replaced by one space (not clipped: oneLine clips too). */
export function withoutControlCharacters(text: string): string {
  return text.replace(CONTROL_RUNS, ' ');
}

/**
 * Peer text for a line of a log or a console, clipped (clip-text.ts): every run of control characters (C0,
 * DEL and C1: a newline that forges a log line, an ANSI or OSC escape a terminal would act on; bidi controls
 * that reorder what is shown; U+2028/U+2029 line breaks) becomes one space.
 */
export function oneLine(text: string, max = MAX_QUOTED_CHARS): string {
  return clipText(withoutControlCharacters(text), max);
}
