import { clipText, MAX_QUOTED_CHARS } from './clip-text.ts';

/** A control character (C0, DEL or C1): what a line of peer text may not hold. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
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
 * DEL and C1: a newline that forges a log line, an ANSI or OSC escape a terminal would act on) becomes one space.
 */
export function oneLine(text: string, max = MAX_QUOTED_CHARS): string {
  return clipText(withoutControlCharacters(text), max);
}
