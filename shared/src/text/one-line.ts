import { clipText, MAX_QUOTED_CHARS } from './clip-text.ts';

/**
 * Peer text for a line of a log or a console, clipped (clip-text.ts): every run of control characters (C0,
 * DEL and C1: a newline that forges a log line, an ANSI or OSC escape a terminal would act on) becomes one space.
 */
export function oneLine(text: string, max = MAX_QUOTED_CHARS): string {
  return clipText(text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' '), max);
}
