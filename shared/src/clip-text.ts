/** Longest free text (a reason, an event name, a site id) quoted in a log line, a report, a database row or a reply. */
export const MAX_QUOTED_CHARS = 300;

/**
 * Bounds text that may come from a peer before it is quoted anywhere: at most `max` characters of it,
 * then "…(+N chars)". Anything that is not a string is described by its type, never stringified whole.
 */
export function clipText(text: unknown, max = MAX_QUOTED_CHARS): string {
  const s = typeof text === 'string' ? text : typeof text === 'number' || typeof text === 'boolean' ? String(text) : `(${typeof text})`;
  return s.length > max ? `${s.slice(0, max)}…(+${s.length - max} chars)` : s;
}
