/** Longest free text (a reason, an event name, a site id) quoted in a log line, a report, a database row or a reply. */
export const MAX_QUOTED_CHARS = 300;

/**
 * Bounds text that may come from a peer before it goes into an error message, a log, the report, the
 * database or a reply: at most `max` UTF-16 units of it are kept (never half a surrogate pair) and the rest
 * is counted, so a 10 MB event name costs a few dozen bytes wherever it is quoted. Anything that is not a
 * string is described by its type, never stringified whole.
 */
export function clipText(text: unknown, max = MAX_QUOTED_CHARS): string {
  const s = typeof text === 'string' ? text : typeof text === 'number' || typeof text === 'boolean' ? String(text) : `(${text === null ? 'null' : Array.isArray(text) ? 'array' : typeof text})`;
  if (s.length <= max) return s;
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}… (${s.length - end} more characters)`;
}

/** `clipText` of any value, quoted as JSON so control characters and quotes in it are escaped. */
export function quoteClipped(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : describeValue(value);
  return JSON.stringify(clipText(text, max));
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
